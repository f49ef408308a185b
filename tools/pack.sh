#!/usr/bin/env bash
# Packs the engine as a .NET library: the NuGet package Vicreg.Engine (engine/Inference: load a backbone, embed tensors
# or image files on the CPU) and, as its package dependencies, the projects it stands on: Vicreg.Engine.Core (the
# core, engine/), Vicreg.Engine.Backends.Cpu, Vicreg.Engine.Data and Vicreg.Engine.Models. Each carries its XML
# documentation and the README. Warnings are errors, as in every build.
#   bash tools/pack.sh [OUTPUT-FOLDER]      (default dist/packages)
# An application then references the package with a NuGet source pointing at that folder, as examples/EmbedImages does.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/packages}
mkdir -p "$out"
for project in engine/Vicreg.Engine.csproj engine/Backends/Cpu/Vicreg.Engine.Backends.Cpu.csproj engine/Data/Vicreg.Engine.Data.csproj \
               engine/Models/Vicreg.Engine.Models.csproj engine/Inference/Vicreg.Engine.Inference.csproj; do
  dotnet pack "$project" -c Release --nologo -v quiet -o "$out"
done
echo "pack: $(cd "$out" && ls Vicreg.Engine*.nupkg | tr '\n' ' ')in $out"
