#!/usr/bin/env bash
# The GAN family side by side, one process per member, on whatever device `auto` finds (a GPU if any).
# Each run: figures + diagnostics history + the evaluate stage's scorecard -> DIR/<name>.json,
# its first samples as a grid -> DIR/<name>.png.
# Usage: bash bench/family.sh DIR [python]
#   (needs data/real/images.npz and models/classifier.pt: dvc repro classifier; the package: pip install -e .)
set -u
case "${1:-}" in -h|--help) sed -n '2,/^set -u/s/^# \{0,1\}//p' "$0" | grep -v "^set -u"; exit 0 ;; esac
dir=${1:?usage: bench/family.sh DIR [python]}
py=${2:-python}
mkdir -p "$dir"
run() {  # name, then train_speed.py -S settings
  local name=$1; shift
  echo "== $name: $*"
  PYTHONUNBUFFERED=1 "$py" bench/train_speed.py --evaluate --grid "$dir/$name.png" --out "$dir/$name.json" "$@" \
    || echo "!! $name failed"
}
run default           -S train.steps=7000                        # params.yaml as it is
run wgan-gp_dcgan64   -S loss=wgan-gp -S model.arch=dcgan -S model.dim=64 -S train.steps=3000   # the paper's
run wgan-gp_mlp64     -S loss=wgan-gp -S model.arch=mlp -S model.dim=64 -S train.steps=3000     # same, an MLP
run minimax_dcgan32   -S loss=minimax -S model.arch=dcgan -S model.dim=32 -S train.steps=3000   # saturating
run wgan_mlp_clip0.01 -S loss=wgan -S model.arch=mlp -S model.dim=64 -S train.steps=2000        # the WGAN paper's clip
run wgan_mlp_clip1    -S loss=wgan -S model.arch=mlp -S model.dim=64 -S train.steps=2000 -S losses.wgan.clip=1  # loose
