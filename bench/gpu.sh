#!/usr/bin/env bash
# The GPU measurement in one command (about 6 minutes on an H100, at most 570 s), six files under OUT_DIR:
#   speed.log        the GPU's name, the speed table as printed, the quality runs' last lines
#   speed_gpu.json   bench/speed.py: naive baseline against the project loop's variants (precision/graph and the
#                    nhwc flag), batch 64 and 1024, each project variant run twice (median and both runs)
#   profile_gpu.txt  the busiest kernels of the bf16 eager step, per batch size
#   q_<variant>.json/.pt  WGAN-GP dcgan DIM=64, 2,000 steps at seed 0: the fast path (bf16, CUDA graph) and the
#                    fp32 eager reference, in the same lease; score the checkpoints with bench/family_eval.py
# Run from the repository root. First installs the package, editable, into PYTHON's environment (the scripts
# import it); torch must be there already. Its other dependencies come from a folder of wheels, ./.whl, when one
# was carried along, else the environment must hold them.
# Usage: bash bench/gpu.sh OUT_DIR [PYTHON]
set -u
case "${1:-}" in -h|--help) sed -n '2,/^set -u/s/^# \{0,1\}//p' "$0" | grep -v "^set -u"; exit 0 ;; esac
out=${1:?usage: bash bench/gpu.sh OUT_DIR [PYTHON]}
py=${2:-python3}
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  "$py" -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-index --find-links .whl \
    -e .
else
  "$py" -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps -e .
fi || { echo "gpu.sh: could not install the package (pip install -e .)" >&2; exit 1; }
"$py" -c "import ganpipe.benchmark" || { echo "gpu.sh: the package does not import (missing dependency?)" >&2; exit 1; }
"$py" -c "import sys, torch; sys.exit(not torch.cuda.is_available())" \
  || { echo "gpu.sh: torch sees no CUDA device here; this script measures one" >&2; exit 1; }
mkdir -p "$out"
nvidia-smi -L > "$out/speed.log" 2>&1
timeout 330 "$py" bench/speed.py --device cuda --repeat 2 --out "$out/speed_gpu.json" \
  --profile-to "$out/profile_gpu.txt" 2>&1 | grep -v USDT | tee -a "$out/speed.log"
quality() {  # name, timeout, train_speed.py -S settings
  name=$1 limit=$2
  shift 2
  timeout "$limit" "$py" bench/train_speed.py -S train.device=cuda -S loss=wgan-gp -S model.arch=dcgan \
    -S model.dim=64 -S train.steps=2000 "$@" --checkpoint-out "$out/$name.pt" --out "$out/$name.json" 2>&1 \
    | grep -v USDT | tail -2 | tee -a "$out/speed.log"
}
quality q_bf16_graph 70 -S train.precision=bf16 -S train.cuda_graph=on -S train.channels_last=false
quality q_fp32_none 150 -S train.precision=fp32 -S train.cuda_graph=off -S train.channels_last=false
