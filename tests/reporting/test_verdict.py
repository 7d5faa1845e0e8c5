"""The verdict's sentences."""
from __future__ import annotations


from ganpipe.config import TrainConfig
from ganpipe.reporting.verdict import scored


def test_the_verdict_names_the_generator_it_scored():
    cfg = TrainConfig(steps=1, batch_size=1, ema_decay=0.995, ema_standing_batches=100)
    assert scored("raw", cfg) == "Scored: the raw generator (its weights after the last step)."
    assert "averaged generator (EMA of the weights, decay 0.995; batch-norm statistics recomputed over 100" \
        in scored("ema", cfg)
    assert scored("ema", cfg.model_copy(update={"ema_standing_batches": 0})) == (
        "Scored: the averaged generator (EMA of the weights, decay 0.995; batch-norm statistics of the raw generator).")
