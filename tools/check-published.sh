#!/usr/bin/env bash
# Runs the published single file (dist/linux-x64/vicreg, from tools/publish.sh) once through a tiny pretrain on
# Fashion-MNIST, `embed --images` of a few generated PNG and JPEG files and a `linear-eval`, so that the test
# command sees what trimming and single-file publishing could break (the JPEG library's binding, the JSON
# writers, the commands' files). Publishes first unless dist/ is newer than every source file. Prints one line
# per step ("published: STEP ok" or the step's output and "published: STEP failed") and exits non-zero on any
# failure. Needs Debian's dataset-fashion-mnist and /usr/bin/python3 with PIL (tools/install-deps.sh installs both).
# Given a binary (a NativeAOT one from `tools/publish.sh --aot`), runs that one instead, without publishing.
#   bash tools/check-published.sh [BINARY]
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-dist/linux-x64/vicreg}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
# step NAME COMMAND...: runs it with its output in a log, shown only when it fails.
step() {
  local name=$1; shift
  local start; start=$(date +%s%N)
  if "$@" > "$work/$name.log" 2>&1; then
    echo "published: $name ok ($(( ($(date +%s%N) - start) / 1000000 )) ms)"
  else
    tail -n 20 "$work/$name.log"
    echo "published: $name failed"
    failed=1
  fi
}

newer=$(find engine vicreg Directory.Build.props tools/publish.sh -type f \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.cu' -o -name '*.cuh' -o -name '*.sh' \) \
  -newer "$bin" -print -quit 2>/dev/null)
if [ $# -gt 0 ]; then
  echo "published: checking $bin as it is"
elif [ ! -x "$bin" ] || [ -n "$newer" ]; then
  step publish bash tools/publish.sh linux-x64
  grep -h "^publish:" "$work/publish.log"
else
  echo "published: $bin is newer than every source file; reusing it"
fi
[ -x "$bin" ] || exit 1

model=(--arch resnet18 --width 0.125)
step pretrain "$bin" pretrain --dataset fashion-mnist "${model[@]}" --mlp 64-64 --epochs 1 --limit 128 --batch-size 32 \
  --warmup-epochs 0 --num-workers 2 --device cpu --exp-dir "$work/exp"
mkdir -p "$work/images/more"
step images /usr/bin/python3 -c '
import sys
from PIL import Image
root = sys.argv[1]
Image.new("RGB", (40, 30), (200, 40, 90)).save(root + "/a.jpg", quality=90)
Image.radial_gradient("L").resize((28, 28)).save(root + "/b.png")
Image.linear_gradient("L").convert("RGB").save(root + "/more/c.png")
open(root + "/notes.txt", "w").write("not an image\n")
' "$work/images"
step embed "$bin" embed --images "$work/images" --weights "$work/exp/backbone.safetensors" --dataset fashion-mnist "${model[@]}" \
  --stem cifar --num-workers 2 --device cpu --output "$work/features.npy"
if [ "$failed" -eq 0 ] && [ "$(wc -l < "$work/features.files.tsv")" -ne 4 ]; then
  cat "$work/features.files.tsv"
  echo "published: embed wrote $(( $(wc -l < "$work/features.files.tsv") - 1 )) rows, expected 3"
  failed=1
fi
step linear-eval "$bin" linear-eval --weights "$work/exp/backbone.safetensors" --dataset fashion-mnist "${model[@]}" \
  --limit 512 --limit-test 256 --epochs 2 --num-workers 2 --device cpu
exit "$failed"
