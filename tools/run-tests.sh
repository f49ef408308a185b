#!/usr/bin/env bash
# The test command (README and .ci/run): installs the system packages the tests use (idempotent),
# builds everything with warnings as errors, runs the xunit suite, and prints one closing line
# "tests: N passed, N failed, N skipped". Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh || { echo "tests: installing system packages failed"; exit 1; }
log=$(mktemp)
dotnet build Vicreg.sln -c Release --nologo -v quiet 2>&1 | tail -n 30
build=${PIPESTATUS[0]}
if [ "$build" -ne 0 ]; then echo "tests: build failed"; exit 1; fi
dotnet test tests/Vicreg.Tests.csproj -c Release --no-build --nologo \
  --logger "console;verbosity=normal" 2>&1 | tee "$log" | grep -E "^\s+(Failed|Skipped) |Error Message|skipped:|Passed!|Failed!|Total tests|error" | head -n 300
status=${PIPESTATUS[0]}
summary=$(grep -E "^(Passed|Failed)!" "$log" | tail -n 1)
passed=$(sed -nE 's/.*Passed: *([0-9]+).*/\1/p' <<<"$summary")
failed=$(sed -nE 's/.*Failed: *([0-9]+).*/\1/p' <<<"$summary")
skipped=$(sed -nE 's/.*Skipped: *([0-9]+).*/\1/p' <<<"$summary")
rm -f "$log"
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
if [ "$status" -ne 0 ] || [ -z "$summary" ] || [ "${failed:-1}" -ne 0 ]; then exit 1; fi
