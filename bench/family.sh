#!/usr/bin/env bash
# The GAN family side by side, one process per member, on whatever device `auto` finds (a GPU if any).
# Each run: figures + diagnostics history -> DIR/<name>.json, fixed-noise grid -> DIR/<name>.png.
# Usage: bash bench/family.sh DIR [python]      (needs data/mnist/mnist.npz from the fetch stage)
set -u
case "${1:-}" in -h|--help) sed -n '2,/^set -u/s/^# \{0,1\}//p' "$0" | grep -v "^set -u"; exit 0 ;; esac
dir=${1:?usage: bench/family.sh DIR [python]}
py=${2:-python}
mkdir -p "$dir"
run() {  # name, then train_speed.py options
  local name=$1; shift
  echo "== $name: $*"
  PYTHONUNBUFFERED=1 "$py" bench/train_speed.py --evaluate --grid "$dir/$name.png" --out "$dir/$name.json" "$@" \
    || echo "!! $name failed"
}
run default              --steps 7000                                      # params.yaml as it is: ns, dcgan dim 32
run wgan-gp_dcgan64      --loss wgan-gp --arch dcgan --dim 64 --steps 3000 # the WGAN-GP paper's MNIST network
run wgan-gp_mlp64        --loss wgan-gp --arch mlp --dim 64 --steps 3000   # same loss and steps, an MLP
run minimax_dcgan32      --loss minimax --arch dcgan --dim 32 --steps 3000 # the saturating original
run wgan_mlp_clip0.01    --loss wgan --arch mlp --dim 64 --steps 2000      # the WGAN paper's clip
run wgan_mlp_clip1       --loss wgan --arch mlp --dim 64 --steps 2000 --clip 1.0   # a clip too loose
