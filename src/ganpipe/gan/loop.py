"""The training loop: a plan, networks and samplers in; trained networks and logged values out. No file I/O, no
seeding, no device choice. Serves MNIST, the 1-D toy and bench/ alike (`fit` is the one entry).

One step reads top to bottom: train the critic (objective.critic_steps updates), then train the generator (one
update). An objective without a critic skips the first part: G then minimises a direct distance to a real batch.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from ganpipe.gan.ema import EMA
from ganpipe.gan.objectives import clip_weights, gradient_penalty, interpolate_grad_norms
from ganpipe.gan.plan import TrainPlan
from ganpipe.gan.resume import TrainState, rng_state, set_rng_state
from ganpipe.runtime import set_precision

Sampler = Callable[[int], Tensor]   # batch size -> a batch on the training device


@dataclass
class Callbacks:
    """What the loop tells the outside world; each does nothing by default.
    log(step, values): the diagnostics at every plan.log_every-th step and the last (see `fit`).
    on_step(step): after every step (progress bars, sample grids).
    on_checkpoint(state): a TrainState every plan.checkpoint_every-th step before the last."""
    log: Callable[[int, dict[str, float]], None] = lambda step, values: None
    on_step: Callable[[int], None] = lambda step: None
    on_checkpoint: Callable[[TrainState], None] = lambda state: None


class Nets(NamedTuple):
    G: nn.Module                 # the raw generator, in eval mode
    D: nn.Module | None
    G_ema: nn.Module | None      # the averaged generator (plan.ema_decay > 0), its batch-norm buffers copied from G


class Diverged(FloatingPointError):
    """A loss went NaN or infinite; the message names the step, the loss and the last finite values."""


def make_optimizer(params, plan: TrainPlan) -> torch.optim.Optimizer:
    """On CUDA the fused Adam (one kernel for all weights) or the foreach RMSprop; under a CUDA graph `capturable`
    keeps the step count on the device. On the CPU torch's defaults, whose results the tests pin."""
    s = plan.objective.settings
    kw = {"capturable": True} if plan.cuda_graph else {}
    if s.optimizer == "rmsprop":   # the WGAN paper's choice: momentum fights the clipped critic
        return torch.optim.RMSprop(params, lr=s.lr, **kw)
    if plan.device.type == "cuda":
        kw["fused"] = True
    return torch.optim.Adam(params, lr=s.lr, betas=s.betas, **kw)


def _grad_norm(module: nn.Module) -> Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else torch.zeros(())


class Step:
    """One training step on static buffers. `draw()` fills the buffers from the samplers (real batches, noise, the
    penalty's interpolation weights), in the order the loop has always drawn them; `__call__()` is pure device work
    with no host sync and no random draw, so CUDA can capture it as one graph (`Graphed`) and replay it. Its outputs
    stay on the device: the last losses, G's gradient norm, and for each loss the first step it was non-finite."""

    def __init__(self, plan: TrainPlan, G: nn.Module, D: nn.Module | None, opt_g, opt_d, ema: EMA | None, start: int):
        self.plan, self.G, self.D, self.opt_g, self.opt_d, self.ema = plan, G, D, opt_g, opt_d, ema
        self.critic_steps = plan.objective.settings.critic_steps if D is not None else 0
        self.buffers: dict[str, Tensor] = {}
        device = plan.device
        self.loss_d, self.loss_g, self.gradnorm_g = (torch.zeros((), device=device) for _ in range(3))
        self.step = torch.full((), start, dtype=torch.long, device=device)
        self.first_bad = torch.zeros(2, dtype=torch.long, device=device)   # (loss_d, loss_g); 0 = finite so far

    def draw(self, real: Sampler, noise: Sampler, generator: torch.Generator) -> None:
        b, cs = self.plan.batch_size, self.critic_steps
        for k in range(cs):   # per critic step: real batch, noise, the penalty's eps: the loop's historic order
            real_batch = self._put("real", k, cs, real(b))
            self._put("z", k, cs + 1, noise(b))
            if self.plan.objective.settings.gp_weight > 0:
                self._put("eps", k, cs, torch.rand(b, *([1] * (real_batch.dim() - 1)), generator=generator,
                                                   device=real_batch.device))
        if cs == 0:   # no critic: the generator's loss compares its batch with a real one
            real_batch = self._put("real", 0, 1, real(b))
            if self.plan.objective.draw is not None:   # e.g. the sliced histogram's directions, after the batch
                self._put("drawn", 0, 1, self.plan.objective.draw(real_batch, generator))
        self._put("z", cs, cs + 1, noise(b))

    def _put(self, name: str, k: int, slots: int, value: Tensor) -> Tensor:
        if name not in self.buffers:   # allocated at the first draw, then only written: a graph's inputs stay put
            self.buffers[name] = torch.empty(slots, *value.shape, dtype=value.dtype, device=self.plan.device)
        self.buffers[name][k].copy_(value)
        return value

    def __call__(self) -> None:
        G, D, buf, obj = self.G, self.D, self.buffers, self.plan.objective
        s, autocast = obj.settings, self.plan.autocast

        # train the critic: tell this batch's real images from G's current fakes
        for k in range(self.critic_steps):
            D.requires_grad_(True)
            real_batch = buf["real"][k]
            with autocast():
                with torch.no_grad():
                    fake = G(buf["z"][k])
                score_real, score_fake = D(real_batch), D(fake)
                loss_d = obj.critic_loss(score_real.float(), score_fake.float())   # losses in fp32
                if s.gp_weight > 0:   # the penalty's norm and square are taken in fp32 (gradient_penalty)
                    loss_d = loss_d + s.gp_weight * gradient_penalty(D, real_batch, fake, eps=buf["eps"][k])
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            if s.clip is not None:
                clip_weights(D, s.clip)
            self.loss_d.copy_(loss_d.detach())

        # train the generator: move its fakes to where the critic scores real images (or towards the real batch)
        if D is not None:
            D.requires_grad_(False)   # G's step needs gradients through D, not into its weights
        with autocast():
            fake = G(buf["z"][self.critic_steps])
            judged = D(fake) if D is not None else fake
        if D is not None:
            loss_g = obj.generator_loss(judged.float())
        else:
            drawn = (buf["drawn"][0],) if "drawn" in buf else ()
            loss_g = obj.generator_loss(judged.float(), buf["real"][0], *drawn)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.gradnorm_g.copy_(_grad_norm(G))
        self.opt_g.step()
        if self.ema is not None:
            self.ema.update()
        if D is not None:
            D.requires_grad_(True)
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


def fit(plan: TrainPlan, G: nn.Module, D: nn.Module | None, *, real: Sampler, noise: Sampler,
        generator: torch.Generator, diagnostic: Tensor, callbacks: Callbacks = Callbacks(),
        state: TrainState | None = None, ema: EMA | None = None) -> Nets:
    """Trains G (and D, when the objective has a critic) in place, on plan.device, for plan.steps steps.

    At every plan.log_every-th step (and the last) callbacks.log gets the diagnostics, measured on `diagnostic` (a
    fixed batch of real data the critic never trains on) against fresh fakes:
      loss_d, loss_g    the last step's losses
      w_estimate        objective.separation(): for wgan/wgan-gp, mean D(fake) - mean D(real), the critic's W1 estimate
      gradnorm_d_mean/max  ||grad D|| at real/fake interpolates: <= 1 for a 1-Lipschitz critic
      gradnorm_g        ||grad of loss_g wrt G's weights||: near 0 when the loss saturates
      d_real, d_fake    mean D(x) and D(G(z)) as probabilities (minimax and ns only)
    Each step's losses are checked on the device (no host sync); a non-finite one raises Diverged at the next logging
    step, before any checkpoint could record it. Passing a checkpoint's `state` back resumes after its step, bit for
    bit. `ema`: a given average of G (bench's observers); by default one of plan.ema_decay when it is > 0.
    """
    G, D = _placed(plan, G), _placed(plan, D) if D is not None else None
    set_precision(plan.precision)
    if ema is None and plan.ema_decay > 0:
        ema = EMA(G, plan.ema_decay)
    opt_g = make_optimizer(G.parameters(), plan)
    opt_d = make_optimizer(D.parameters(), plan) if D is not None else None
    start, last_logged = 0, None
    if state is not None:
        _restore(state, G, D, opt_g, opt_d, ema, generator)
        start, last_logged = state.step, state.last_logged
    G.train()
    if D is not None:
        D.train()
    one = Step(plan, G, D, opt_g, opt_d, ema, start)
    run = Graphed(one) if plan.cuda_graph else one
    for step in range(start + 1, plan.steps + 1):
        one.draw(real, noise, generator)
        run()
        if step % plan.log_every == 0 or step == plan.steps:   # .item() only here: each one is a device sync
            values = _checked_values(one, last_logged)
            if D is not None:
                values.update(_critic_diagnostics(plan, G, D, diagnostic, noise, generator))
            callbacks.log(step, values)
            last_logged = {"step": step, **values}
            if plan.checkpoint_every and step % plan.checkpoint_every == 0 and step < plan.steps:
                callbacks.on_checkpoint(TrainState(
                    step, G.state_dict(), D.state_dict() if D is not None else None, opt_g.state_dict(),
                    opt_d.state_dict() if opt_d is not None else None, rng_state(generator), last_logged,
                    ema.model.state_dict() if ema is not None else None))
        callbacks.on_step(step)
    G.eval()
    if D is not None:
        D.requires_grad_(True)
        D.eval()
    return Nets(G, D, ema.model.eval() if ema is not None else None)


def _placed(plan: TrainPlan, net: nn.Module) -> nn.Module:
    net = net.to(plan.device)
    return net.to(memory_format=torch.channels_last) if plan.channels_last else net


def _checked_values(one: Step, last_logged: dict | None) -> dict[str, float]:
    """The step's losses (no loss_d without a critic) and G's gradient norm; Diverged if a loss went non-finite
    since the last logging step."""
    first_bad = one.first_bad.tolist()
    if any(first_bad):
        raise Diverged(_divergence_message(first_bad, last_logged))
    critic = {"loss_d": one.loss_d.item()} if one.D is not None else {}
    return {**critic, "loss_g": one.loss_g.item(), "gradnorm_g": one.gradnorm_g.item()}


def _restore(state: TrainState, G, D, opt_g, opt_d, ema: EMA | None, generator: torch.Generator) -> None:
    G.load_state_dict(state.G)
    if D is not None:
        D.load_state_dict(state.D)
    opt_g.load_state_dict(state.opt_g)
    if opt_d is not None:
        opt_d.load_state_dict(state.opt_d)
    if ema is not None:
        ema.model.load_state_dict(state.G_ema)
    set_rng_state(state.rng, generator)


def _divergence_message(first_bad: list[int], last_logged: dict | None) -> str:
    first = min(step for step in first_bad if step)
    which = " and ".join(name for name, step in zip(("loss_d", "loss_g"), first_bad) if step == first)
    if last_logged is None:
        before = "no finite values were logged before it"
    else:
        before = f"last finite values at step {last_logged['step']}: " + ", ".join(
            f"{name}={last_logged[name]:.4g}" for name in ("loss_d", "loss_g") if name in last_logged)
    return f"non-finite {which} at step {first}; {before}"


def _critic_diagnostics(plan: TrainPlan, G: nn.Module, D: nn.Module, diagnostic: Tensor, noise: Sampler,
                        generator: torch.Generator) -> dict[str, float]:
    # D stays in train mode (batch norm included) so the figures describe the critic G trains against
    with torch.no_grad():
        fake = G(noise(len(diagnostic)))
        score_real, score_fake = D(diagnostic), D(fake)
    with torch.enable_grad():
        D.requires_grad_(False)   # the input gradient is all we need
        norms = interpolate_grad_norms(D, diagnostic, fake, generator)
    out = {"w_estimate": plan.objective.separation(score_real, score_fake).item(),
           "gradnorm_d_mean": norms.mean().item(), "gradnorm_d_max": norms.max().item()}
    if plan.objective.probability:
        out["d_real"] = torch.sigmoid(score_real).mean().item()
        out["d_fake"] = torch.sigmoid(score_fake).mean().item()
    return out
