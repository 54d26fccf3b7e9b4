#!/usr/bin/env bash
# Fill .gpu-wheels/ (gitignored, carried to a lent GPU machine, see bench/gpu_check.sh) with the cp312 manylinux
# wheels that the machine's preinstalled Python 3.12 lacks: py-arkworks-bls12381, pyblst, py_ecc and its
# dependencies, and numba 0.68.1 (installed there only where llvmlite 0.50 is already present: llvmlite's own
# wheel, 60 MB, does not fit the 64 MiB that travels). Needs network access to the package index.
set -eu
cd "$(dirname "$0")/.."
PIP=${PIP:-pip}
DEST=.gpu-wheels
mkdir -p "$DEST"
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
      --platform any)
"$PIP" download -q --only-binary=:all: --python-version 3.12 "${plat[@]}" -d "$DEST" \
    "py-arkworks-bls12381==0.5.0" "pyblst==0.3.15" "py_ecc==8.0.0"
"$PIP" download -q --only-binary=:all: --python-version 3.12 "${plat[@]}" -d "$DEST" --no-deps "numba==0.68.1"
du -sh "$DEST"
