#!/usr/bin/env bash
# Issue 7's GPU measurement in one command: the speed table (bench/speed.py, project loop against the naive
# baseline at batch 64 and 1024, with a kernel profile) and the quality runs (WGAN-GP dcgan DIM=64, 2,000
# steps at seed 0, fp32 eager against the fast paths; score the checkpoints with bench/family_eval.py).
#   bash bench/gpu.sh OUT_DIR [PYTHON]
set -u
out=${1:?usage: bash bench/gpu.sh OUT_DIR [PYTHON]}
py=${2:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$out"
nvidia-smi -L > "$out/gpu.txt" 2>&1
timeout 330 "$py" bench/speed.py --device cuda --out "$out/speed_h100.json" --profile-to "$out/profile_h100.txt" \
  2>&1 | grep -v USDT | tee "$out/speed.log"
for v in bf16/graph fp32/none tf32/graph; do
  name="q_${v%/*}_${v#*/}"
  timeout 150 "$py" bench/train_speed.py --device cuda --loss wgan-gp --arch dcgan --dim 64 --steps 2000 \
    --precision "${v%/*}" --compile "${v#*/}" --grid "$out/$name.png" --checkpoint-out "$out/$name.pt" \
    --out "$out/$name.json" 2>&1 | grep -v USDT | tail -3 | tee -a "$out/quality.log"
done
