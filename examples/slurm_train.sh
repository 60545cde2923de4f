#!/bin/bash
# Data-parallel VSE++ training on 2 nodes x 4 GPUs with Slurm + torchrun (NCCL).
#   sbatch examples/slurm_train.sh configs/vse++.toml
# One torchrun per node; they meet at the first node (c10d rendezvous). Rank 0 writes the
# checkpoints; the same script with --nodes=1 and --nproc-per-node=2 runs on one machine, and a
# CPU cluster works the same way (gloo is picked when there is no GPU).
#SBATCH --job-name=vislang-vsepp
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=16
#SBATCH --time=04:00:00

set -euo pipefail
CONFIG=${1:-configs/vse++.toml}
HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export VISLANG_DIST_TIMEOUT=600   # a dead rank fails the others within 10 minutes, naming it
export OMP_NUM_THREADS=4

srun torchrun \
    --nnodes "$SLURM_NNODES" \
    --nproc-per-node 4 \
    --rdzv-id "$SLURM_JOB_ID" \
    --rdzv-backend c10d \
    --rdzv-endpoint "$HEAD:29500" \
    -m vislang train vse++ --config "$CONFIG" --out "runs/$SLURM_JOB_ID"
