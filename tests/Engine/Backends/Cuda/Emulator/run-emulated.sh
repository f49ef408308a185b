#!/bin/sh
# Runs the CUDA backend's device test suite WITHOUT a GPU: the real C# backend and the real .cu kernels
# (compiled as C++ on a CPU emulation of CUDA's thread model), behind fakes of libcuda.so.1, libcublas.so.12
# (plain SGEMM), libcudnn.so.9 (direct-loop convolutions that check descriptors, algorithm and workspace) and
# libnccl.so.2 (ranks meeting in a shared file, results queued on the collective's stream).
# NVRTC is the real one (the backend still compiles every module to CUBIN). Convolutions run both through the
# cuDNN path and the im2col + cuBLAS fallback. This checks kernel logic, launch-argument marshalling, memory,
# copies and the cuDNN plumbing; it cannot check real-GPU behavior (timing, races between streams, real
# cuDNN/cuBLAS numerics). Needs g++ (C++20).
#   tests/Engine/Backends/Cuda/Emulator/run-emulated.sh [extra dotnet test arguments]   (VICREG_TEST_FILTER narrows the tests)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../../.." && pwd)
out=${VICREG_EMULATOR_DIR:-/tmp/vicreg-cuda-emulator}
mkdir -p "$out/cache"
for cu in "$root"/engine/Backends/Cuda/Kernels/*.cu; do
  module=$(basename "$cu" .cu)
  tu="$out/module_$module.cpp"
  sed "s|@SOURCE@|$cu|" "$here/kernel_module.cpp.in" > "$tu"
  grep -o 'extern "C" __global__ void [a-z0-9_]*' "$cu" | awk '{print $5}' | while read -r k; do
    echo "extern \"C\" int emu_L_$k(unsigned g, unsigned b, void** p) { emu_trapped = false; emu_launch_params($k, g, b, p); return emu_trapped; }" >> "$tu"
  done
  g++ -std=c++20 -O1 -shared -fPIC -w -I"$here" -I"$root/engine/Backends/Cuda/Kernels" -o "$out/libemu_$module.so" "$tu" -lpthread
done
g++ -std=c++17 -O1 -shared -fPIC -o "$out/libcuda.so.1" "$here/fake_driver.cpp" -ldl
g++ -std=c++17 -O2 -shared -fPIC -o "$out/libcublas.so.12" "$here/fake_cublas.cpp"
g++ -std=c++17 -O2 -shared -fPIC -o "$out/libcudnn.so.9" "$here/fake_cudnn.cpp"
g++ -std=c++17 -O2 -shared -fPIC -o "$out/libnccl.so.2" "$here/fake_nccl.cpp" -L"$out" -l:libcuda.so.1 -lpthread
cd "$root"
LD_LIBRARY_PATH="$out${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" VICREG_KERNEL_CACHE="$out/cache" \
  dotnet test tests/Vicreg.Tests.csproj --filter "${VICREG_TEST_FILTER:-FullyQualifiedName~Vicreg.Tests.Engine.Backends.Cuda}" "$@"
