#!/usr/bin/env bash
# Example Slurm job array for the paper-scale Table 1: one task per (variant, trained model) =
# 4 variants x 12 models (6 dataset draws x 2 training seeds; a training seed names one model) = 48
# tasks; each trains its model and draws its sampling runs (10, or 100 for the first model: the
# paper's protocol) over the task's cores.
# Afterwards combine the slices into one table:
#
#   sbatch scripts/slurm-array.sh
#   npm run merge -- results/paper results/paper-slices/*
#
# For finer slices, run a second array after this one with --runs blocks (e.g. --runs 10-54):
# a task with the same config finds the finished checkpoint in its --out folder and only samples.
#
#SBATCH --job-name=attn-creativity
#SBATCH --array=0-47
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=06:00:00
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail
variants=(cnn attention identity top1)
i=${SLURM_ARRAY_TASK_ID:?run me with sbatch}
variant=${variants[$((i / 12))]}
seed=$((i % 12))
out="results/paper-slices/${variant}-seed${seed}"
# "--seeds 5-5" is a slice (model 5 only); a bare "--seeds 5" would be a count (5 seeds per draw).
npm run experiment -- --profile paper --variant "$variant" --seeds "$seed-$seed" \
  --workers "${SLURM_CPUS_PER_TASK:-1}" --out "$out"
