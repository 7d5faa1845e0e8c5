"""The adversarial training loop: networks, samplers and an objective in; trained networks and logged
values out. No file I/O, no seeding, no device choice. Serves MNIST and the 1-D toy alike."""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrize import is_parametrized

from ganpipe.config import ModelConfig, Objective, TrainConfig
from ganpipe.gan.objectives import (PROBABILITY, clip_weights, critic_loss, generator_loss, gradient_penalty,
                            interpolate_grad_norms, separation)
from ganpipe.gan.ema import EMA, has_batchnorm
from ganpipe.gan.networks import build_critic, build_generator, sample_noise
from ganpipe.gan.resume import rng_state, set_rng_state
from ganpipe.runtime import set_precision, speed_settings

Sampler = Callable[[int], Tensor]   # batch size -> a batch on the training device


def make_optimizer(params, obj: Objective, device: torch.device, *, capturable: bool = False) -> torch.optim.Optimizer:
    """On CUDA the fused Adam (one kernel for all weights) or the foreach RMSprop; `capturable` keeps the step
    count on the device, as a CUDA graph needs. On the CPU torch's defaults, whose results the tests pin."""
    kw = {"capturable": True} if capturable else {}
    if obj.optimizer == "rmsprop":   # the WGAN paper's choice: momentum fights the clipped critic
        return torch.optim.RMSprop(params, lr=obj.lr, **kw)
    if device.type == "cuda":
        kw["fused"] = True
    return torch.optim.Adam(params, lr=obj.lr, betas=obj.betas, **kw)


def _grad_norm(module: nn.Module) -> Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else torch.zeros(())


class Diverged(FloatingPointError):
    """A loss went NaN or infinite; the message names the step, the loss and the last finite values."""


class Step:
    """One training step (obj.critic_steps critic updates, then one generator update) on static buffers.

    `draw()` fills the buffers from the samplers (real batches, noise, the penalty's interpolation weights),
    in the order the loop has always drawn them; `__call__()` is pure device work with no host sync and no
    random draw, so CUDA can capture it as one graph (`Graphed`) and replay it. Its outputs stay on the
    device: the last losses, G's gradient norm, and for each loss the first step at which it was non-finite.

    fuse: fewer kernels per critic update, for the launch-bound GPU step. Real and fake go through the critic
    in one pass (when it has no batch norm, so each sample's score is its own, and no spectral norm, whose
    power iteration runs once per pass), and under bf16 each weight is
    cast once per update instead of once per pass. The same arithmetic up to rounding. On the CPU it gains
    nothing (bench/NOTES.md), so the train stage leaves it off; on CUDA it awaits its measurement.
    """

    def __init__(self, G: nn.Module, D: nn.Module, opt_g, opt_d, *, loss: str, obj: Objective, batch_size: int,
                 precision: str, device: torch.device, start: int, fuse: bool = False, ema: EMA | None = None):
        self.G, self.D, self.opt_g, self.opt_d, self.ema = G, D, opt_g, opt_d, ema
        self.loss, self.obj, self.batch_size = loss, obj, batch_size
        self.device = device
        self.bf16, self.fuse = precision == "bf16", fuse
        # a joint pass must equal two: batch norm (the only cross-sample layer of our critics) would mix the
        # samples' scores, and spectral norm would run one power iteration where two passes run two
        self.concat = fuse and not has_batchnorm(D) and not any(is_parametrized(m) for m in D.modules())
        self.buffers: dict[str, Tensor] = {}
        self.loss_d, self.loss_g, self.gradnorm_g = (torch.zeros((), device=device) for _ in range(3))
        self.step = torch.full((), start, dtype=torch.long, device=device)
        self.first_bad = torch.zeros(2, dtype=torch.long, device=device)   # (loss_d, loss_g); 0 = finite so far

    def draw(self, real: Sampler, noise: Sampler, generator: torch.Generator) -> None:
        b, cs = self.batch_size, self.obj.critic_steps
        for k in range(cs):   # per critic step: real batch, noise, the penalty's eps: the loop's historic order
            real_batch = self._put("real", k, cs, real(b))
            self._put("z", k, cs + 1, noise(b))
            if self.obj.gp_weight > 0:
                self._put("eps", k, cs, torch.rand(b, *([1] * (real_batch.dim() - 1)), generator=generator,
                                                   device=real_batch.device))
        self._put("z", cs, cs + 1, noise(b))

    def _put(self, name: str, k: int, slots: int, value: Tensor) -> Tensor:
        if name not in self.buffers:   # allocated at the first draw, then only written: a graph's inputs stay put
            self.buffers[name] = torch.empty(slots, *value.shape, dtype=value.dtype, device=self.device)
        self.buffers[name][k].copy_(value)
        return value

    def _autocast(self):
        # the cache lives for one `with` block: the weights do not change inside one
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=self.fuse)

    def __call__(self) -> None:
        G, D, obj, buf = self.G, self.D, self.obj, self.buffers
        D.requires_grad_(True)
        for k in range(obj.critic_steps):
            real_batch = buf["real"][k]
            with self._autocast():
                with torch.no_grad():
                    fake = G(buf["z"][k])
                if self.concat:
                    score_real, score_fake = D(torch.cat([real_batch, fake])).chunk(2)
                else:
                    score_real, score_fake = D(real_batch), D(fake)
                loss_d = critic_loss(self.loss, score_real.float(), score_fake.float())   # losses in fp32
                if obj.gp_weight > 0:   # the penalty's norm and square are taken in fp32 (gradient_penalty)
                    loss_d = loss_d + obj.gp_weight * gradient_penalty(D, real_batch, fake, eps=buf["eps"][k])
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            if obj.clip is not None:
                clip_weights(D, obj.clip)

        D.requires_grad_(False)   # G's step needs gradients through D, not into its weights
        with self._autocast():
            score = D(G(buf["z"][obj.critic_steps]))
        loss_g = generator_loss(self.loss, score.float())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.gradnorm_g.copy_(_grad_norm(G))
        self.opt_g.step()
        if self.ema is not None:
            self.ema.update()
        D.requires_grad_(True)
        self.loss_d.copy_(loss_d.detach())
        self.loss_g.copy_(loss_g.detach())
        self.step.add_(1)
        bad = ~torch.isfinite(torch.stack([self.loss_d, self.loss_g]))
        self.first_bad.copy_(torch.where(bad & (self.first_bad == 0), self.step, self.first_bad))


class Graphed:
    """Runs a Step as one CUDA graph: a few eager warm-up steps on a side stream (real training steps, as
    torch's docs prescribe before capture), then one capture, then a replay per step: one launch instead of
    hundreds. Replays see whatever `Step.draw` wrote into the static buffers."""

    def __init__(self, step: Step, warmup: int = 3):
        self.step, self.warmup, self.graph = step, warmup, None

    def __call__(self) -> None:
        if self.graph is None:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                self.step()
            torch.cuda.current_stream().wait_stream(stream)
            self.warmup -= 1
            if self.warmup > 0:
                return
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):   # records the step: the warm-up above was the real one
                self.step()
            return
        self.graph.replay()


def train_gan(
    G: nn.Module,
    D: nn.Module,
    *,
    real: Sampler,
    noise: Sampler,
    loss: str,
    obj: Objective,
    steps: int,
    batch_size: int,
    log_every: int,
    generator: torch.Generator,
    held_out: Tensor,
    log: Callable[[int, dict[str, float]], None] = lambda step, values: None,
    on_step: Callable[[int], None] = lambda step: None,
    state: dict | None = None,
    checkpoint_every: int = 0,
    on_checkpoint: Callable[[int, dict], None] = lambda step, state: None,
    precision: str = "fp32",
    graph: bool = False,
    fuse: bool = False,
    ema: EMA | None = None,
) -> None:
    """Trains G and D in place. One step = obj.critic_steps critic updates, then one generator update.

    At every `log_every`-th step (and the last) `log(step, values)` gets the diagnostics, measured on
    `held_out` (a fixed batch of real data the critic never trains on) against fresh fakes:
      loss_d, loss_g    the last step's losses
      w_estimate        separation(): for wgan/wgan-gp, mean D(fake) - mean D(real), the critic's W1 estimate
      gradnorm_d_mean/max  ||grad D|| at real/fake interpolates: <= 1 for a 1-Lipschitz critic
      gradnorm_g        ||grad of loss_g wrt G's weights||: near 0 when the loss saturates
      d_real, d_fake    mean D(x) and D(G(z)) as probabilities (minimax and ns only)
    `on_step(step)` runs after every step (progress bars, sample grids).

    Every `checkpoint_every`-th step (a multiple of log_every; 0 = never) before the last, `on_checkpoint(step,
    state)` gets everything a resumed run needs to continue bit for bit: both networks, both optimizers and
    every RNG state. Passing that `state` back resumes after its step. Each step's losses are checked on the
    device (no host sync); a non-finite one raises Diverged at the next logging step, before any checkpoint
    could record it.

    precision: fp32 | tf32 | bf16 (autocast; losses and the gradient penalty in fp32), set up by the caller
    (runtime.set_precision). graph: capture the step as a CUDA graph (CUDA only: runtime.speed_settings
    refuses it elsewhere). fuse: see Step. ema: updated after every generator step, inside the step (so a CUDA
    graph captures it); its weights are part of the resume state.
    """
    device = held_out.device
    opt_g = make_optimizer(G.parameters(), obj, device, capturable=graph)
    opt_d = make_optimizer(D.parameters(), obj, device, capturable=graph)
    start, last_logged = 0, None
    if state is not None:
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        if ema is not None:
            ema.model.load_state_dict(state["G_ema"])
        set_rng_state(state["rng"], generator)
        start, last_logged = state["step"], state["last_logged"]
    G.train()
    D.train()
    one = Step(G, D, opt_g, opt_d, loss=loss, obj=obj, batch_size=batch_size, precision=precision,
               device=device, start=start, fuse=fuse, ema=ema)
    run = Graphed(one) if graph else one
    for step in range(start + 1, steps + 1):
        one.draw(real, noise, generator)
        run()
        if step % log_every == 0 or step == steps:   # .item() only here: each one is a device sync
            first_bad = one.first_bad.tolist()
            if any(first_bad):
                raise Diverged(_divergence_message(first_bad, last_logged))
            values = {"loss_d": one.loss_d.item(), "loss_g": one.loss_g.item(), "gradnorm_g": one.gradnorm_g.item()}
            values.update(_critic_diagnostics(G, D, held_out, noise, loss, generator))
            log(step, values)
            last_logged = {"step": step, **values}
            if checkpoint_every and step % checkpoint_every == 0 and step < steps:
                on_checkpoint(step, {"step": step, "G": G.state_dict(), "D": D.state_dict(),
                                     "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                                     "rng": rng_state(generator), "last_logged": last_logged,
                                     **({"G_ema": ema.model.state_dict()} if ema is not None else {})})
        on_step(step)
    D.requires_grad_(True)
    G.eval()
    D.eval()


def _divergence_message(first_bad: list[int], last_logged: dict | None) -> str:
    first = min(step for step in first_bad if step)
    which = " and ".join(name for name, step in zip(("loss_d", "loss_g"), first_bad) if step == first)
    if last_logged is None:
        before = "no finite values were logged before it"
    else:
        before = (f"last finite values at step {last_logged['step']}: loss_d={last_logged['loss_d']:.4g}, "
                  f"loss_g={last_logged['loss_g']:.4g}")
    return f"non-finite {which} at step {first}; {before}"


def _critic_diagnostics(G: nn.Module, D: nn.Module, held_out: Tensor, noise: Sampler, loss: str,
                        generator: torch.Generator) -> dict[str, float]:
    # D stays in train mode (batch norm included) so the figures describe the critic G trains against
    with torch.no_grad():
        fake = G(noise(len(held_out)))
        score_real, score_fake = D(held_out), D(fake)
    with torch.enable_grad():
        D.requires_grad_(False)   # the input gradient is all we need
        norms = interpolate_grad_norms(D, held_out, fake, generator)
    out = {"w_estimate": separation(loss, score_real, score_fake).item(),
           "gradnorm_d_mean": norms.mean().item(), "gradnorm_d_max": norms.max().item()}
    if loss in PROBABILITY:
        out["d_real"] = torch.sigmoid(score_real).mean().item()
        out["d_fake"] = torch.sigmoid(score_fake).mean().item()
    return out


def check_batch_size(batch_size: int, n_images: int) -> None:
    if batch_size > n_images:
        raise ValueError(f"train.batch_size: {batch_size} exceeds the {n_images} training images")


class Nets(NamedTuple):
    G: nn.Module                 # the raw generator, in eval mode
    D: nn.Module
    G_ema: nn.Module | None      # the averaged generator (train.ema > 0), its batch-norm buffers copied from G


def critic_for(model_cfg: ModelConfig, loss: str) -> nn.Module:
    """The critic fit_mnist trains for `loss`. Batch norm only for the clipped wgan, as in the WGAN-GP paper's code:
    it would break the per-sample gradient penalty (our default ns run also scored better without it: pixel_js
    0.025 vs 0.029)."""
    return build_critic(model_cfg, batchnorm=loss == "wgan")


def fit_mnist(images: Tensor, held_out: Tensor, *, model_cfg: ModelConfig, loss: str, obj: Objective,
              cfg: TrainConfig, device: torch.device, generator: torch.Generator,
              log: Callable[[int, dict[str, float]], None] = lambda step, values: None,
              on_step: Callable[[int], None] = lambda step: None,
              G: nn.Module | None = None, D: nn.Module | None = None, ema: EMA | None = None,
              state: dict | None = None,
              on_checkpoint: Callable[[int, dict], None] = lambda step, state: None,
              fuse: bool = False) -> Nets:
    """The MNIST GAN: builds the networks of `model_cfg` on `device` (or trains a given G and D, and a given EMA of G)
    and trains them.
    images, held_out: (N, 1, 28, 28) in [-1, 1], already on `device`, sampled with replacement on the device.
    cfg.channels_last: NHWC weights and activations. cfg.ema > 0: an averaged generator trails G, with G's batch-norm
    statistics (ema.standing_stats_from_noise recomputes them for its weights; the train stage does).
    fuse: see Step; off by default until the H100 measures it (bench/NOTES.md)."""
    check_batch_size(cfg.batch_size, len(images))
    G = (G if G is not None else build_generator(model_cfg)).to(device)
    D = (D if D is not None else critic_for(model_cfg, loss)).to(device)
    precision, graph = speed_settings(cfg.precision, cfg.compile, device)
    set_precision(precision)
    if cfg.channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    if ema is None and cfg.ema > 0:
        ema = EMA(G, cfg.ema)
    train_gan(G, D, real=lambda b: images[torch.randint(len(images), (b,), generator=generator, device=device)],
              noise=lambda b: sample_noise(b, model_cfg, generator=generator, device=device),
              loss=loss, obj=obj, steps=cfg.steps, batch_size=cfg.batch_size, log_every=cfg.log_every,
              generator=generator, held_out=held_out, log=log, on_step=on_step,
              state=state, checkpoint_every=cfg.checkpoint_every, on_checkpoint=on_checkpoint,
              precision=precision, graph=graph, fuse=fuse, ema=ema)
    return Nets(G, D, ema.model.eval() if ema is not None else None)
