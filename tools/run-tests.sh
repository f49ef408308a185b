#!/usr/bin/env bash
# The test command (README and .ci/run). Installs the system packages the tests use (idempotent),
# builds everything with warnings as errors, then runs three stages:
#   1. the xunit suite (CUDA device tests report "skipped: no CUDA device" on machines without a GPU);
#   2. the CUDA device tests again on the CPU emulation of tests/Engine/Backends/Cuda/Emulator (real kernels compiled as
#      C++ behind fake libcuda/libcublas/libcudnn; needs g++) — kernel logic, not real-GPU behavior;
#   3. the numerics-sensitive tests (CPU kernels, gradients, models, losses, training determinism, PyTorch
#      parity) again with AVX-512 disabled (DOTNET_EnableAVX512F=0), so that on an AVX-512 machine both CPU
#      code paths (the Vector512 kernels in stage 1, the AVX2 ones here) are checked on every run;
#   4. the published single file (tools/publish.sh, reused when newer than the sources) through a tiny pretrain,
#      embed --images and linear-eval (tools/check-published.sh): one test, failed if any step fails.
# Shows every failure with its message and every skip with its reason, says which CPU paths ran, and ends
# with one line "tests: N passed, N failed, N skipped" over all stages. Exits non-zero on any failure.
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

passed=0; failed=0; skipped=0; broken=0
# Adds one stage's TRX counters to the totals and prints its failures and skips.
tally() {
  local name=$1 status=$2 log=$3 trx=$4
  # A failure's message is the lines between "Error Message:" and "Stack Trace:" (at most 20 of them).
  awk '/^[[:space:]]+(Stack Trace:|Standard Output Messages:)/ { message = 0 }
       message && ++lines <= 20 { print; next }
       /^[[:space:]]+Error Message:/ { print; message = 1; lines = 0; next }
       /^[[:space:]]+(Failed|Skipped) Vicreg|skipped: / { print }' "$log" \
    | sed -E 's/^\[xUnit.net [0-9:.]+\]\s+/    reason: /' | head -n 300
  # The TRX names every failed test even when the console log shows none (e.g. a failure reported outside a test's output).
  grep -o 'testName="[^"]*"[^>]*outcome="Failed"' "$trx" 2>/dev/null | sed -E 's/^testName="([^"]*)".*/  failed (TRX): \1/; s/&quot;/"/g' | head -n 50
  local counters; counters=$(grep -o '<Counters [^>]*>' "$trx" 2>/dev/null | head -n 1)
  get() { sed -nE "s/.* $1=\"([0-9]+)\".*/\1/p" <<<"$counters"; }
  local t e p f; t=$(get total); e=$(get executed); p=$(get passed); f=$(get failed)
  if [ -z "$counters" ] || [ "$status" -ne 0 ] || [ "${f:-1}" -ne 0 ] || [ "${p:-0}" -eq 0 ]; then broken=1; fi
  echo "$name: ${p:-0} passed, ${f:-0} failed, $(( ${t:-0} - ${e:-0} )) skipped"
  passed=$(( passed + ${p:-0} )); failed=$(( failed + ${f:-0} )); skipped=$(( skipped + ${t:-0} - ${e:-0} ))
}

# Which CPU kernels a stage runs: the GEMM takes its Vector512 kernel when the runtime reports AVX-512F
# (Avx512F.IsSupported), which needs the CPU flag; DOTNET_EnableAVX512F=0 turns it off.
has_avx512=0
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  has_avx512=1
  echo "CPU paths: this CPU has AVX-512F: stage 1 runs the AVX-512 kernels, stage 3 the AVX2 kernels"
else
  echo "CPU paths: this CPU has no AVX-512F: stage 1 runs the AVX2 kernels; the AVX-512 path could not run here, and stage 3 (the AVX2 path again) is skipped"
fi

echo "== stage 1: test suite"
dotnet test tests/Vicreg.Tests.csproj -c Release --no-build --nologo --results-directory "$results/suite" \
  --logger "trx;LogFileName=suite.trx" --logger "console;verbosity=normal" > "$results/suite.log" 2>&1
tally "stage 1" $? "$results/suite.log" "$results/suite/suite.trx"

if command -v g++ >/dev/null 2>&1; then
  echo "== stage 2: CUDA device tests on the CPU emulation (no GPU involved)"
  # The CUDA device tests, the conformance suite's CUDA rows (tests/Conformance) and pretraining with --device cuda.
  VICREG_TEST_FILTER="FullyQualifiedName~Vicreg.Tests.Engine.Backends.Cuda|FullyQualifiedName~Vicreg.Tests.Conformance.Cuda|FullyQualifiedName~Vicreg.Tests.App.Training.CudaPretrainTests" \
  VICREG_EMULATOR_DIR="$results/emulator" bash tests/Engine/Backends/Cuda/Emulator/run-emulated.sh -c Release --no-build --nologo \
    --results-directory "$results/emulated" --logger "trx;LogFileName=emulated.trx" --logger "console;verbosity=normal" \
    > "$results/emulated.log" 2>&1
  tally "stage 2" $? "$results/emulated.log" "$results/emulated/emulated.trx"
else
  echo "== stage 2 skipped: no g++ to build the CUDA emulation"
fi
if [ "$has_avx512" -eq 1 ]; then
  echo "== stage 3: numerics-sensitive tests again with AVX-512 disabled (DOTNET_EnableAVX512F=0: the AVX2 path)"
  numerics="FullyQualifiedName~Vicreg.Tests.Engine.Backends.Cpu.|FullyQualifiedName~Vicreg.Tests.Engine.OpGradientTests"
  numerics+="|FullyQualifiedName~Vicreg.Tests.Engine.Autograd.AutogradTests|FullyQualifiedName~Vicreg.Tests.Engine.Models."
  numerics+="|FullyQualifiedName~Vicreg.Tests.App.Losses.|FullyQualifiedName~Vicreg.Tests.App.Training.|FullyQualifiedName~Vicreg.Tests.Conformance.Cpu|Reference=PyTorch"
  DOTNET_EnableAVX512F=0 dotnet test tests/Vicreg.Tests.csproj -c Release --no-build --nologo --filter "$numerics" \
    --results-directory "$results/avx2" --logger "trx;LogFileName=avx2.trx" --logger "console;verbosity=normal" \
    > "$results/avx2.log" 2>&1
  tally "stage 3" $? "$results/avx2.log" "$results/avx2/avx2.trx"
else
  echo "== stage 3 skipped: stage 1 already ran the AVX2 path on this CPU"
fi
echo "== stage 4: the published single file: publish (unless up to date), pretrain, embed --images, linear-eval"
if bash tools/check-published.sh > "$results/published.log" 2>&1; then
  passed=$(( passed + 1 )); sed 's/^/    /' "$results/published.log"; echo "stage 4: 1 passed, 0 failed, 0 skipped"
else
  failed=$(( failed + 1 )); sed 's/^/    /' "$results/published.log"; echo "stage 4: 0 passed, 1 failed, 0 skipped"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$broken" -eq 0 ] && [ "$failed" -eq 0 ]
