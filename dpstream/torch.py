"""DP-FTRL and BLT matrix-factorization noise for PyTorch training (optional: ``import dpstream`` needs no torch).

    from dpstream.torch import DPFTRL
    opt = DPFTRL(model.parameters(), lr=0.5, base="sgd", mechanism="blt", target_epsilon=8.0, delta=1e-5,
                 clip_norm=1.0, epochs=10, batch_size=64, dataset_size=len(X))
    for step in range(opt.steps):
        idx = opt.batch_indices(step)                      # fixed secret batch order, cycled every epoch
        opt.private_step(model, loss_fn, X[idx], y[idx])   # per-example clip (torch.func), noise, base step
    opt.privacy_report()                                    # {'epsilon_spent': ..., 'delta': ..., ...}
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, path)   # resumable, no noise re-drawn

The noise and the accounting are :class:`dpstream.training.DPFTRLNoise` (see there for the privacy statement);
this module adds per-example gradients with ``torch.func`` (``vmap`` over ``grad``), clipping, and a base torch
optimizer ("sgd": DP-FTRL in its SGD form; "momentum", "adam", or any ``torch.optim.Optimizer`` subclass).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch.func import functional_call, grad, vmap

from .base import InvalidInput, InvalidParameter, StateError, check_int
from .training import DPFTRLNoise

__all__ = ["DPFTRL", "clipped_grad_sum"]


def clipped_grad_sum(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    clip_norm: float,
    params: list[torch.nn.Parameter] | None = None,
) -> list[torch.Tensor]:
    """Sum over the batch of per-example gradients (of ``params``, default all trainable parameters), each scaled to
    total L2 norm <= clip_norm.  Per-example gradients by ``vmap(grad(...))`` over ``functional_call``."""
    named = [(n, p) for n, p in model.named_parameters()]
    wanted = {id(p) for p in (params if params is not None else [p for _, p in named if p.requires_grad])}
    train = {n: p.detach() for n, p in named if id(p) in wanted}
    if len(train) != len(wanted):
        raise InvalidParameter("every optimized parameter must be a parameter of the model passed to private_step")
    frozen = {n: p.detach() for n, p in named if id(p) not in wanted}
    frozen.update({n: b for n, b in model.named_buffers()})

    def one(tp, xi, yi):
        out = functional_call(model, {**frozen, **tp}, (xi.unsqueeze(0),))
        return loss_fn(out, yi.unsqueeze(0))

    g = vmap(grad(one), in_dims=(None, 0, 0))(train, x, y)
    sq = sum(v.reshape(v.shape[0], -1).pow(2).sum(1) for v in g.values())
    scale = (clip_norm / sq.sqrt().clamp_min(1e-30)).clamp(max=1.0)
    sums = {n: torch.einsum("b,b...->...", scale, v) for n, v in g.items()}
    order = {id(p): n for n, p in named}
    plist = params if params is not None else [p for _, p in named if p.requires_grad]
    return [sums[order[id(p)]] for p in plist]


_BASES = {"sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "adam": torch.optim.Adam}


class DPFTRL:
    """A differentially private optimizer: clipped per-example gradients + correlated noise (BLT or tree), then a
    base torch optimizer.  Mirrors the Opacus / jax_privacy knobs: ``noise_multiplier`` or ``target_epsilon`` (at
    ``delta``), ``clip_norm``, ``epochs``, ``batch_size``, ``dataset_size``."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        *,
        lr: float,
        base: str | type = "sgd",
        mechanism: str = "blt",
        noise_multiplier: float | None = None,
        target_epsilon: float | None = None,
        delta: float = 1e-5,
        clip_norm: float = 1.0,
        epochs: int,
        batch_size: int,
        dataset_size: int,
        momentum: float = 0.9,
        buffers: int = 6,
        neighbouring: str = "zero-out",
        seed: int | None = None,
        **base_kwargs: Any,
    ):
        self.params = [p for p in params]
        if not self.params:
            raise InvalidParameter("DPFTRL needs at least one parameter")
        self.batch_size = check_int("batch_size", batch_size)
        self.dataset_size = check_int("dataset_size", dataset_size, minimum=self.batch_size)
        if isinstance(base, str):
            if base not in _BASES:
                raise InvalidParameter(f"base must be one of {sorted(_BASES)} or a torch.optim.Optimizer class")
            if base == "momentum":
                base_kwargs.setdefault("momentum", momentum)
            base_cls = _BASES[base]
        elif isinstance(base, type) and issubclass(base, torch.optim.Optimizer):
            base_cls = base
        else:
            raise InvalidParameter(f"base must be a name or a torch.optim.Optimizer class, got {base!r}")
        self.base = base_cls(self.params, lr=lr, **base_kwargs)
        self.sizes = [p.numel() for p in self.params]
        self.plan = DPFTRLNoise(
            mechanism,
            sum(self.sizes),
            steps_per_epoch=dataset_size // batch_size,
            epochs=epochs,
            clip_norm=clip_norm,
            noise_multiplier=noise_multiplier,
            target_epsilon=target_epsilon,
            delta=delta,
            neighbouring=neighbouring,
            buffers=buffers,
            seed=seed,
        )

    # -- convenience ---------------------------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        return self.plan.steps

    @property
    def step_count(self) -> int:
        return self.plan.t

    @property
    def noise_multiplier(self) -> float:
        return self.plan.noise_multiplier

    def batch_indices(self, step: int | None = None) -> torch.Tensor:
        """Indices of the examples of ``step`` (default: the next step), from the plan's fixed secret order."""
        t = self.plan.t if step is None else step
        return torch.from_numpy(self.plan.batch_indices(t, self.dataset_size, self.batch_size).copy())

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base.zero_grad(set_to_none=set_to_none)

    # -- the private step ----------------------------------------------------------------------------------------
    def step_with_grad_sum(self, grad_sums: list[torch.Tensor]) -> torch.Tensor:
        """Add the next step's noise to already *clipped and summed* gradients, divide by the batch size, and run
        the base optimizer.  Returns the noise added (flat float32, for audits)."""
        if len(grad_sums) != len(self.params):
            raise InvalidInput(f"expected {len(self.params)} gradient sums, got {len(grad_sums)}")
        for g, p in zip(grad_sums, self.params, strict=True):
            if g.shape != p.shape:
                raise InvalidInput(f"gradient sum of shape {tuple(g.shape)} for a parameter of shape {tuple(p.shape)}")
        noise = torch.from_numpy(self.plan.noise())
        off = 0
        for g, p, n in zip(grad_sums, self.params, self.sizes, strict=True):
            w = noise[off : off + n].view(p.shape).to(device=p.device, dtype=p.dtype)
            p.grad = (g.detach().to(p.dtype) + w) / self.batch_size
            off += n
        self.base.step()
        return noise

    def private_step(self, model: torch.nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One DP step on the batch (x, y) (its size must be ``batch_size``): per-example gradients, clip, noise,
        base step.  Returns the noise added (flat float32)."""
        if x.shape[0] != self.batch_size or y.shape[0] != self.batch_size:
            raise InvalidInput(f"a batch must have batch_size={self.batch_size} examples, got {x.shape[0]}")
        sums = clipped_grad_sum(model, loss_fn, x, y, self.plan.clip_norm, self.params)
        return self.step_with_grad_sum(sums)

    # -- accounting and persistence ------------------------------------------------------------------------------
    def privacy_report(self, delta: float | None = None) -> dict:
        """epsilon at delta spent by the steps taken so far, the planned total, and the unit of privacy."""
        return self.plan.report(delta)

    @property
    def guarantee(self):
        return self.plan.guarantee

    def state_dict(self) -> dict:
        """Base optimizer state + the noise plan (key, step, held noise vectors as tensors).  Secret: it holds the
        noise key.  Save it together with the model after a step; resuming re-releases nothing new."""
        ps = self.plan.state_dict()
        gen = ps["generator"]
        if gen is not None:
            gen = dict(gen)
            gen["vectors"] = {
                k: None if v is None else torch.from_numpy(np.asarray(v)) for k, v in gen["vectors"].items()
            }
            ps["generator"] = gen
        return {
            "base": self.base.state_dict(),
            "plan": ps,
            "batch_size": self.batch_size,
            "dataset_size": self.dataset_size,
        }

    def load_state_dict(self, state: dict) -> None:
        try:
            ps = dict(state["plan"])
            if int(state["batch_size"]) != self.batch_size or int(state["dataset_size"]) != self.dataset_size:
                raise StateError("checkpoint was made with another batch_size / dataset_size")
            if ps.get("generator") is not None:
                gen = dict(ps["generator"])
                gen["vectors"] = {k: None if v is None else v.cpu().numpy() for k, v in gen["vectors"].items()}
                ps["generator"] = gen
            plan = DPFTRLNoise.from_state_dict(ps)
        except StateError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise StateError(f"cannot restore DPFTRL state: {e}") from e
        for attr in ("dim", "mechanism", "steps_per_epoch", "epochs", "clip_norm", "neighbouring"):
            if getattr(plan, attr) != getattr(self.plan, attr):
                raise StateError(
                    f"checkpoint has {attr}={getattr(plan, attr)!r}, this optimizer {getattr(self.plan, attr)!r}; "
                    f"resume with the settings of the interrupted run"
                )
        self.base.load_state_dict(state["base"])
        self.plan = plan
