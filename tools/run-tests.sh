#!/usr/bin/env bash
# The test command (README and .ci/run): installs the system packages the tests use (idempotent),
# builds everything with warnings as errors, runs the xunit suite, shows every failure and every skip
# with its reason, and ends with one line "tests: N passed, N failed, N skipped". Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh || { echo "tests: installing system packages failed"; exit 1; }
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
if ! dotnet build Vicreg.sln -c Release --nologo -v quiet > "$results/build.log" 2>&1; then
  grep -E "error|warning" "$results/build.log" | sort -u | head -n 50
  echo "tests: build failed"
  exit 1
fi
dotnet test tests/Vicreg.Tests.csproj -c Release --no-build --nologo --results-directory "$results" \
  --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" > "$results/test.log" 2>&1
status=$?
# Failures with their messages, and skips with their reasons (a skip must never look like a pass).
grep -E "^\s+Failed Vicreg|^\s+Skipped Vicreg|^\s+Error Message:|^\s+(Assert|System)\.|skipped: " "$results/test.log" \
  | sed -E 's/^\[xUnit.net [0-9:.]+\]\s+/    reason: /' | head -n 400
counters=$(grep -o '<Counters [^>]*>' "$results"/*.trx 2>/dev/null | head -n 1)
count() { sed -nE "s/.* $1=\"([0-9]+)\".*/\1/p" <<<"$counters"; }
total=$(count total); executed=$(count executed); passed=$(count passed); failed=$(count failed)
skipped=$(( ${total:-0} - ${executed:-0} ))
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped} skipped"
if [ "$status" -ne 0 ] || [ -z "$counters" ] || [ "${failed:-1}" -ne 0 ] || [ "${passed:-0}" -eq 0 ]; then exit 1; fi
