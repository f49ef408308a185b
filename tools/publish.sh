#!/usr/bin/env bash
# Builds `vicreg` as one self-contained, trimmed file (no .NET runtime and no Python needed on the target)
# into dist/RID/ (default linux-x64; linux-arm64 cross-publishes from here). With --aot, compiles it ahead of
# time with NativeAOT instead (smaller, faster to start; needs gcc, or clang, and the ILCompiler package for the
# RID) into dist/RID-aot/. Any warning fails the build, trim and AOT analysis warnings included, so that trimming
# can never silently cut something a code path needs. Ends with the file's size and, when this machine can run
# it, its start-up time (`vicreg --version`, the best of three runs).
#   bash tools/publish.sh [RID] [--aot]
set -euo pipefail
cd "$(dirname "$0")/.."
rid=linux-x64
aot=0
for arg in "$@"; do
  case $arg in
    --aot) aot=1 ;;
    -*) echo "publish: unknown flag $arg (usage: tools/publish.sh [RID] [--aot])"; exit 2 ;;
    *) rid=$arg ;;
  esac
done
out=dist/$rid
mode=(-p:PublishSingleFile=true -p:PublishTrimmed=true)
if [ "$aot" -eq 1 ]; then
  out=dist/$rid-aot
  mode=(-p:PublishAot=true)
  # NativeAOT links with clang by default; Debian's gcc does the same job where clang is not installed.
  if ! command -v clang > /dev/null && command -v gcc > /dev/null; then mode+=(-p:CppCompilerAndLinker=gcc); fi
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! dotnet publish vicreg/Vicreg.csproj -c Release -r "$rid" --self-contained "${mode[@]}" \
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
if ! "$out/vicreg" --version > /dev/null 2>&1; then
  echo "publish: $out/vicreg, $size bytes ($(( size / 1048576 )) MiB; a $rid binary this $(uname -m) machine cannot run: start-up not measured)"
  exit 0
fi
best=
for _ in 1 2 3; do
  start=$(date +%s%N)
  "$out/vicreg" --version > /dev/null
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
echo "publish: $out/vicreg, $size bytes ($(( size / 1048576 )) MiB), start-up ${best} ms (vicreg --version, best of 3)"
