#!/usr/bin/env bash
# Builds `vicreg` as one self-contained, trimmed file (no .NET runtime and no Python needed on the target)
# into dist/RID/ (default linux-x64). Any warning fails the build, trim analysis warnings included, so that
# trimming can never silently cut something a code path needs. Ends with the file's size and its start-up
# time (`vicreg --version`, the best of three runs).
#   bash tools/publish.sh [RID]
set -euo pipefail
cd "$(dirname "$0")/.."
rid=${1:-linux-x64}
out=dist/$rid
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! dotnet publish vicreg/Vicreg.csproj -c Release -r "$rid" --self-contained -p:PublishSingleFile=true -p:PublishTrimmed=true \
     -p:DebugType=none -o "$out" --nologo > "$log" 2>&1; then
  grep -E "error|warning" "$log" | sort -u | head -n 50
  echo "publish: failed"
  exit 1
fi
if grep -qE ": warning [A-Z]+[0-9]+" "$log"; then
  grep -E ": warning " "$log" | sort -u | head -n 50
  echo "publish: warnings (trimming must stay warning-free)"
  exit 1
fi
size=$(stat -c %s "$out/vicreg")
best=
for _ in 1 2 3; do
  start=$(date +%s%N)
  "$out/vicreg" --version > /dev/null
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
echo "publish: $out/vicreg, $size bytes ($(( size / 1048576 )) MiB), start-up ${best} ms (vicreg --version, best of 3)"
