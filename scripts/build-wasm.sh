#!/usr/bin/env bash
# Compile every AssemblyScript kernel assembly/<name>.ts to src/kernels/<name>.wasm (SIMD on).
# The .wasm files are committed; test/kernels-train.test.ts and test/kernels-sample.test.ts rebuild
# them and check the bytes match. Files named _*.ts (assembly/_constants.ts, generated) are imported,
# not compiled on their own.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p src/kernels
for f in assembly/*.ts; do
  name=$(basename "$f" .ts)
  case "$name" in _*|index) continue ;; esac
  npx asc "$f" --outFile "src/kernels/$name.wasm" --optimizeLevel 3 --shrinkLevel 0 --noAssert \
    --runtime stub --enable simd --disable bulk-memory --initialMemory 16
done
