"""The GAN: networks, objectives next to their formulas, the training step and loop, resume, checkpoints."""
