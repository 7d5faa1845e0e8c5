"""ganpipe: a reproducible GAN lab. The library knows nothing of params.yaml or repo paths (the stages and
cli.py pass them in); of DVC, only reporting/compare.py reads experiments through its API."""
