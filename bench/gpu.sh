#!/usr/bin/env bash
# Issue 7's GPU measurement in one command (about 6 minutes on an H100, at most 570 s), seven files under OUT_DIR:
#   speed.log        the GPU's name, the speed table as printed, the quality runs' last lines
#   speed_gpu.json   bench/speed.py: naive baseline against the project loop's variants (precision/compile and the
#                    nhwc and fuse flags), batch 64 and 1024, each project variant run twice (median and both runs)
#   profile_gpu.txt  the busiest kernels of the fused bf16 eager step, per batch size
#   q_<variant>.json/.pt  WGAN-GP dcgan DIM=64, 2,000 steps at seed 0: the fused fast path and the fp32 eager
#                    reference, in the same lease; score the checkpoints here with bench/family_eval.py
# Usage: bash bench/gpu.sh OUT_DIR [PYTHON]
set -u
case "${1:-}" in -h|--help) sed -n '2,/^set -u/s/^# \{0,1\}//p' "$0" | grep -v "^set -u"; exit 0 ;; esac
out=${1:?usage: bash bench/gpu.sh OUT_DIR [PYTHON]}
py=${2:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$out"
nvidia-smi -L > "$out/speed.log" 2>&1
timeout 330 "$py" bench/speed.py --device cuda --repeat 2 --out "$out/speed_gpu.json" \
  --profile-to "$out/profile_gpu.txt" --profile-flags fuse 2>&1 | grep -v USDT | tee -a "$out/speed.log"
quality() {  # name, timeout, train_speed.py options
  name=$1 limit=$2
  shift 2
  timeout "$limit" "$py" bench/train_speed.py --device cuda --loss wgan-gp --arch dcgan --dim 64 --steps 2000 \
    "$@" --checkpoint-out "$out/$name.pt" --out "$out/$name.json" 2>&1 | grep -v USDT | tail -2 | tee -a "$out/speed.log"
}
quality q_bf16_graph_fuse 70 --precision bf16 --compile graph --fuse
quality q_fp32_none 150 --precision fp32 --compile none
