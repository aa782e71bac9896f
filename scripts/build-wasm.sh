#!/usr/bin/env bash
# Compile every AssemblyScript kernel assembly/<name>.ts to src/kernels/<name>.wasm (SIMD on).
# The .wasm files are committed; test/kernels-train.test.ts and test/kernels-sample.test.ts rebuild
# them and check the bytes match. Only the top-level files are kernels: assembly/lib/ (shared
# building blocks), assembly/blocks/ (one attention block per variant) and the generated _*.ts
# (`npm run gen`) are imported by them, not compiled on their own.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p src/kernels
for f in assembly/*.ts; do
  name=$(basename "$f" .ts)
  case "$name" in _*|index) continue ;; esac
  npx asc "$f" --outFile "src/kernels/$name.wasm" --optimizeLevel 3 --shrinkLevel 0 --noAssert \
    --runtime stub --enable simd --disable bulk-memory --initialMemory 16 --disableWarning 112
done
