#!/usr/bin/env bash
# Example Slurm job array for the paper-scale Table 1: one task per (variant, training seed)
# = 4 x 3 = 12 tasks; each trains its model and draws its 100 sampling runs over the task's cores.
# Afterwards combine the slices into one table:
#
#   sbatch scripts/slurm-array.sh
#   npm run merge -- results/paper results/paper-slices/*
#
# For finer slices, run a second array after this one with --runs blocks (e.g. --runs 0-24):
# a task with the same config finds the finished checkpoint in its --out folder and only samples.
#
#SBATCH --job-name=attn-creativity
#SBATCH --array=0-11
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=06:00:00
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail
variants=(cnn attention identity top1)
i=${SLURM_ARRAY_TASK_ID:?run me with sbatch}
variant=${variants[$((i / 3))]}
seed=$((i % 3))
out="results/paper-slices/${variant}-seed${seed}"
npm run experiment -- --profile paper --variant "$variant" --seeds "$seed" \
  --workers "${SLURM_CPUS_PER_TASK:-1}" --out "$out"
