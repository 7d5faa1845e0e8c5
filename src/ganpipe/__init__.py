"""ganpipe: a reproducible GAN lab. The library knows nothing of DVC, params.yaml or repo paths."""
