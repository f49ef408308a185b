#!/usr/bin/env bash
# Installs the system packages Vicreg needs on a fresh Debian machine (run as root, or with sudo).
#   product:   libturbojpeg0 (JPEG decoding), dataset-fashion-mnist (default data set),
#              openmpi-bin + libopenmpi3 (mpirun and libmpi.so.40: pretraining across processes and machines),
#              libnvrtc11.2 + libnvrtc-builtins11.8 (non-free: compile CUDA kernels at run time / in tests)
#   tests and benchmarks only: python3-torch, python3-torchvision (reference values and anchors),
#              libopenblas0-pthread (GEMM anchor), libopenmpi-dev (mpi.h, against which the tests check our MPI bindings)
# Non-free is enabled by adding the component to the existing apt sources entry; no address is written.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
src=/etc/apt/sources.list.d/debian.sources
if [ -f "$src" ] && ! grep -q "non-free" "$src"; then
  $SUDO sed -i 's/^Components: main$/Components: main contrib non-free/' "$src"
fi
if [ -f /etc/apt/sources.list ] && grep -qE '^deb .* main$' /etc/apt/sources.list; then
  $SUDO sed -i -E 's/^(deb .* main)$/\1 contrib non-free/' /etc/apt/sources.list
fi
want=(libturbojpeg0 dataset-fashion-mnist libnvrtc11.2 libnvrtc-builtins11.8 openmpi-bin libopenmpi3
      python3-torch python3-torchvision libopenblas0-pthread libopenmpi-dev)
missing=()
for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "system packages ready: ${want[*]}"
