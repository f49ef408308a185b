#!/usr/bin/env bash
# The README's first command: installs what is needed, builds vicreg, pretrains a narrow ResNet-18 on
# Fashion-MNIST with VICReg for a few minutes on the CPU, then measures three linear probes the same
# way: on the pretrained backbone, on the same backbone at random init, and on the raw pixels.
# Extra arguments go to `vicreg pretrain` (e.g. --epochs 20 for a longer run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
dotnet build vicreg/Vicreg.csproj -c Release --nologo -v quiet
vicreg() { dotnet vicreg/bin/Release/net10.0/vicreg.dll "$@"; }
exp=${VICREG_EXP:-./exp/quickstart}
model=(--arch resnet18 --width 0.25)
vicreg pretrain --dataset fashion-mnist --exp-dir "$exp" "${model[@]}" --mlp 1024-1024-1024 \
  --epochs 2 --warmup-epochs 1 --batch-size 256 --base-lr 0.3 --log-freq-time 30 "$@"
probe=(--dataset fashion-mnist "${model[@]}" --epochs 30 --lr-head 0.05 --exp-dir "$exp")
vicreg linear-eval --weights "$exp/backbone.safetensors" "${probe[@]}" | tee "$exp/probe-pretrained.txt"
vicreg linear-eval --weights random "${probe[@]}" | tee "$exp/probe-random.txt"
vicreg linear-eval --weights pixels "${probe[@]}" | tee "$exp/probe-pixels.txt"
echo
echo "linear probe top-1 on Fashion-MNIST test (same probe for all three):"
for k in pretrained random pixels; do printf '  %-11s %s\n' "$k" "$(grep -o 'top-1 [0-9.]*%' "$exp/probe-$k.txt")"; done
