"""DP-FTRL / DP matrix-factorization noise for model training, independent of any framework (numpy float32).

    plan = DPFTRLNoise("blt", dim=n_params, steps_per_epoch=len(data) // B, epochs=E, clip_norm=1.0,
                       target_epsilon=8.0, delta=1e-5)
    for t in range(plan.steps):
        idx = plan.batch_indices(t, len(data), B)          # the fixed secret batch order (one permutation, cycled)
        g = clip_and_sum(per_example_grads(params, data[idx]), plan.clip_norm)   # (d,) float32
        params -= lr * plan.privatize(g) / B               # SGD on noisy gradients = DP-FTRL
    plan.epsilon_spent()                                    # epsilon at delta for the steps released so far

Mechanisms: ``"blt"`` (one BLT factorization over the whole run, multi-participation sensitivity computed exactly),
``"tree"`` and ``"honaker"`` (a fresh tree every epoch, the "tree restart" of Kairouz et al. 2021: one
participation per tree).  The noise of step t is the increment w_t of :mod:`dpstream.counters.gradient_noise`, so
the sum of the noisy gradients up to t is the noisy prefix sum of the factorization.

Privacy.  Unit: one example (zero-out adjacency: its clipped gradient, norm <= clip_norm, replaced by zero; pass
``neighbouring="replace-one"`` to double the sensitivity for replace-one adjacency).  Participation: the batch order
is one secret permutation of the examples repeated every epoch, so an example participates at steps i, i + b, ...,
i + (E - 1) b (b = steps per epoch): E participations exactly b apart.  The released noisy gradients are
post-processing of C g + z, z ~ N(0, std^2 I) per row, a Gaussian mechanism with L2 sensitivity
clip * Delta (Delta^2 = max over participation patterns of ||C 1_pattern||^2, :mod:`dpstream.counters.participation`),
so the whole run is mu-GDP with mu = clip * Delta / std = 1 / noise_multiplier (``std = noise_multiplier * clip *
Delta``), adaptively (lower-triangular Gaussian linear mechanism, Denisov et al. 2022).  epsilon at delta is the
exact Gaussian conversion (:func:`dpstream.accounting.gaussian_epsilon`).

What this is not: the noise is float32 from numpy's floating-point Gaussian sampler (PCG64, 128-bit key from the
OS) and the buffers are float32.  The guarantee is that of the idealised real-valued Gaussian mechanism; unlike
the lattice counters of :mod:`dpstream.counters`, floating-point effects are not covered by a proof.  No privacy
amplification by sampling is used (none is claimed for the fixed order).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from scipy import optimize

from .accounting import Guarantee, gaussian_epsilon
from .base import (
    InvalidInput,
    InvalidParameter,
    StateError,
    check_int,
    check_positive,
    check_probability,
    pack_state,
    unpack_state,
    upgrade_legacy_state,
)
from .counters.gradient_noise import MECHANISMS, BLTNoise, GradientNoise, make_gradient_noise
from .counters.participation import Participation, toeplitz_sensitivity2
from .noise import make_entropy, make_rng

__all__ = [
    "DPFTRLNoise",
    "calibrate_noise_multiplier",
    "epsilon_for_noise_multiplier",
    "clip_and_sum",
    "FLOAT_NOTE",
]

#: the envelope's ``mechanism`` of a plan (its noise mechanism is the field ``noise``)
STATE_MECHANISM = "dpftrl-noise"
STATE_VERSION = 1
_ORDER_STREAM = 2**31  # spawn key of the batch-order permutation (noise streams use small integers)

FLOAT_NOTE = (
    "real-valued Gaussian mechanism computed in floating point: float32 noise from numpy's Gaussian sampler "
    "(PCG64 keyed from the OS) and float32 buffers; not the exact lattice mechanism of the dpstream counters, "
    "floating-point artefacts are not covered by the proof"
)


def epsilon_for_noise_multiplier(noise_multiplier: float, delta: float) -> float:
    """epsilon at delta of the whole run: mu-GDP with mu = 1 / noise_multiplier (exact Gaussian conversion)."""
    nm = check_positive("noise_multiplier", noise_multiplier)
    return gaussian_epsilon(delta, 1.0 / nm)


def calibrate_noise_multiplier(target_epsilon: float, delta: float) -> float:
    """The noise multiplier whose run is exactly (target_epsilon, delta)-DP: nm = 1 / mu, gaussian_epsilon(delta,
    mu) = target_epsilon.  The mechanism and participation enter through the sensitivity Delta in
    std = nm * clip * Delta (see :class:`DPFTRLNoise`)."""
    eps = check_positive("target_epsilon", target_epsilon)
    delta = check_probability("delta", delta)
    lo, hi = 1e-6, 1.0
    while gaussian_epsilon(delta, hi) < eps:
        hi *= 2.0
        if hi > 1e6:
            raise InvalidParameter(f"target_epsilon={eps} is too large to calibrate")
    mu = optimize.brentq(lambda m: gaussian_epsilon(delta, m) - eps, lo, hi, xtol=1e-14, rtol=1e-13)
    return 1.0 / mu


def clip_and_sum(per_example: Any, clip_norm: float) -> np.ndarray:
    """Sum of per-example vectors (rows of an (n, d) array), each scaled to L2 norm <= clip_norm; float32."""
    clip_norm = check_positive("clip_norm", clip_norm)
    g = np.asarray(per_example, dtype=np.float64)
    if g.ndim != 2:
        raise InvalidInput(f"per-example gradients must be an (n, d) array, got shape {g.shape}")
    if not np.isfinite(g).all():
        raise InvalidInput("per-example gradients contain NaN or infinite values")
    norms = np.sqrt((g * g).sum(1))
    scale = np.minimum(1.0, clip_norm / np.maximum(norms, 1e-300))
    return (scale @ g).astype(np.float32)


class DPFTRLNoise:
    """The noise plan of one private training run: calibration, per-step noise, batch order, accounting, state."""

    def __init__(
        self,
        mechanism: str,
        dim: int,
        *,
        steps_per_epoch: int,
        epochs: int,
        clip_norm: float,
        noise_multiplier: float | None = None,
        target_epsilon: float | None = None,
        delta: float = 1e-5,
        neighbouring: str = "zero-out",
        buffers: int = 6,
        seed: int | None = None,
        _entropy: int | None = None,
    ):
        if mechanism not in MECHANISMS:
            raise InvalidParameter(f"mechanism must be one of {sorted(MECHANISMS)}, got {mechanism!r}")
        if neighbouring not in ("zero-out", "replace-one"):
            raise InvalidParameter(f"neighbouring must be 'zero-out' or 'replace-one', got {neighbouring!r}")
        self.mechanism = mechanism
        self.dim = check_int("dim", dim)
        self.steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch)
        self.epochs = check_int("epochs", epochs)
        self.steps = self.steps_per_epoch * self.epochs
        self.clip_norm = check_positive("clip_norm", clip_norm)
        self.delta = check_probability("delta", delta)
        self.neighbouring = neighbouring
        self.buffers = buffers
        if (noise_multiplier is None) == (target_epsilon is None):
            raise InvalidParameter("pass exactly one of noise_multiplier=... or target_epsilon=... (at delta)")
        if noise_multiplier is None:
            assert target_epsilon is not None  # exactly one of the two is given (checked just above)
            noise_multiplier = calibrate_noise_multiplier(target_epsilon, self.delta)
        self.noise_multiplier = check_positive("noise_multiplier", noise_multiplier)
        self.participation = Participation(self.epochs, self.steps_per_epoch)
        self.seeded = seed is not None
        self._entropy = make_entropy(seed) if _entropy is None else int(_entropy)
        if mechanism == "blt":
            probe = BLTNoise(1, self.steps, buffers=buffers)
            self._c = probe.strategy_coefficients(self.steps)
        # Delta per unit clip, whole run; a 1e-9 relative margin covers rounding in the BLT series inversion
        self.sensitivity = math.sqrt(self.sensitivity2_upto(self.steps) * (1.0 + 1e-9))
        adj = 2.0 if neighbouring == "replace-one" else 1.0
        self.std = self.noise_multiplier * self.clip_norm * adj * self.sensitivity
        self.t = 0
        self._gen: GradientNoise | None = None

    def spawn(self, seed: int | None = None) -> DPFTRLNoise:
        """A fresh plan with the same calibration and a new key (OS randomness unless ``seed``), at step 0; skips
        re-fitting the factorization (repeated runs, audits)."""
        new = copy.copy(self)
        new.seeded = seed is not None
        new._entropy = make_entropy(seed)
        new.t = 0
        new._gen = None
        new.__dict__.pop("_perm", None)
        return new

    # -- accounting --------------------------------------------------------------------------------------------
    def sensitivity2_upto(self, t: int) -> float:
        """Delta_t^2 per unit clip of the releases of steps 1..t (0 for t = 0)."""
        if t <= 0:
            return 0.0
        b = self.steps_per_epoch
        if self.mechanism == "blt":
            return toeplitz_sensitivity2(self._c, t, self.participation)
        # trees restart every epoch: one participation per tree, a tree over n steps has n.bit_length() levels
        full, part = divmod(t, b)
        return float(full * b.bit_length() + part.bit_length())

    def mu_spent(self, t: int | None = None) -> float:
        t = self.t if t is None else t
        return math.sqrt(self.sensitivity2_upto(t)) / (self.noise_multiplier * self.sensitivity)

    def epsilon_spent(self, delta: float | None = None, t: int | None = None) -> float:
        """epsilon at delta of the noisy gradients released so far (steps 1..t; t defaults to the steps taken)."""
        mu = self.mu_spent(t)
        return 0.0 if mu == 0.0 else gaussian_epsilon(self.delta if delta is None else delta, mu)

    @property
    def guarantee(self) -> Guarantee:
        """The guarantee of the whole planned run (mu-GDP, mu = 1 / noise_multiplier)."""
        mu = 1.0 / self.noise_multiplier
        restart = "a fresh tree every epoch (tree restart)" if self.mechanism != "blt" else "one BLT factorization"
        return Guarantee(
            rho=mu * mu / 2.0,
            mu=mu,
            neighbours=f"{self.participation.describe()}, {self.neighbouring} adjacency",
            adaptive=True,
            seeded=self.seeded,
            notes=(
                FLOAT_NOTE,
                f"{self.mechanism}: {restart}; sensitivity {self.sensitivity:.6g} x clip {self.clip_norm:g} for "
                f"{self.epochs} participations exactly {self.steps_per_epoch} steps apart (fixed secret batch "
                f"order repeated every epoch); no amplification by sampling",
            ),
        )

    def report(self, delta: float | None = None) -> dict:
        d = self.delta if delta is None else delta
        return {
            "mechanism": self.mechanism,
            "steps_taken": self.t,
            "steps_planned": self.steps,
            "epsilon_spent": self.epsilon_spent(d),
            "epsilon_planned": self.epsilon_spent(d, self.steps),
            "delta": d,
            "mu_spent": self.mu_spent(),
            "noise_multiplier": self.noise_multiplier,
            "noise_std": self.std,
            "unit": self.guarantee.neighbours,
        }

    # -- batches -------------------------------------------------------------------------------------------------
    def batch_indices(self, t: int, dataset_size: int, batch_size: int) -> np.ndarray:
        """Example indices of step t (0-based): slot t mod b of one secret permutation, the same every epoch."""
        n = check_int("dataset_size", dataset_size)
        bs = check_int("batch_size", batch_size)
        if n // bs != self.steps_per_epoch:
            raise InvalidParameter(
                f"dataset_size // batch_size = {n // bs} but the plan has steps_per_epoch={self.steps_per_epoch}"
            )
        perm = getattr(self, "_perm", None)
        if perm is None or perm.size != n:
            perm = self._perm = make_rng(self._entropy, _ORDER_STREAM).permutation(n)
        s = t % self.steps_per_epoch
        return perm[s * bs : (s + 1) * bs]

    # -- noise ---------------------------------------------------------------------------------------------------
    def _generator(self) -> GradientNoise:
        if self.mechanism == "blt":
            if self._gen is None:
                self._gen = BLTNoise(self.dim, self.steps, std=self.std, buffers=self.buffers, _entropy=self._entropy)
            return self._gen
        epoch = self.t // self.steps_per_epoch
        if self._gen is None or self._gen.stream != epoch:
            self._gen = make_gradient_noise(
                self.mechanism, self.dim, self.steps_per_epoch, std=self.std, stream=epoch, _entropy=self._entropy
            )
        return self._gen

    def noise(self) -> np.ndarray:
        """The float32 noise for the next step's clipped gradient sum (advances the step counter)."""
        if self.t >= self.steps:
            raise InvalidParameter(f"all {self.steps} planned steps have been taken; the privacy plan covers no more")
        gen = self._generator()
        w = gen.step()
        self.t += 1
        gen.seeded = self.seeded
        return w

    def privatize(self, grad_sum: Any) -> np.ndarray:
        """grad_sum (d,) + the next step's noise, float32."""
        g = np.asarray(grad_sum, dtype=np.float32).reshape(-1)
        if g.size != self.dim:
            raise InvalidInput(f"gradient sum has {g.size} coordinates, the plan has dim={self.dim}")
        if not np.isfinite(g).all():
            raise InvalidInput("gradient sum contains NaN or infinite values")
        return g + self.noise()

    # -- persistence ---------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Parameters, the key (secret), t and the generator's held vectors.  Restore it once."""
        return pack_state(
            STATE_MECHANISM,
            STATE_VERSION,
            {
                "noise": self.mechanism,
                "dim": self.dim,
                "steps_per_epoch": self.steps_per_epoch,
                "epochs": self.epochs,
                "clip_norm": self.clip_norm,
                "noise_multiplier": self.noise_multiplier,
                "delta": self.delta,
                "neighbouring": self.neighbouring,
                "buffers": self.buffers,
                "seeded": self.seeded,
                "entropy": format(self._entropy, "x"),
                "t": self.t,
                "generator": None if self._gen is None else self._gen.state_dict(),
            },
        )

    _STATE_FIELDS = (
        "noise",
        "dim",
        "steps_per_epoch",
        "epochs",
        "clip_norm",
        "noise_multiplier",
        "delta",
        "neighbouring",
        "buffers",
        "seeded",
        "entropy",
        "t",
        "generator",
    )

    @classmethod
    def from_state_dict(cls, state: dict) -> DPFTRLNoise:
        """Restore a plan saved by :meth:`state_dict` (also one in the layout of dpstream 0.1.0, as a torch
        checkpoint of that version holds it)."""
        state = unpack_state(upgrade_legacy_state(state), STATE_MECHANISM, STATE_VERSION, cls._STATE_FIELDS)
        try:
            obj = cls(
                state["noise"],
                int(state["dim"]),
                steps_per_epoch=int(state["steps_per_epoch"]),
                epochs=int(state["epochs"]),
                clip_norm=float(state["clip_norm"]),
                noise_multiplier=float(state["noise_multiplier"]),
                delta=float(state["delta"]),
                neighbouring=state["neighbouring"],
                buffers=int(state["buffers"]),
                _entropy=int(state["entropy"], 16),
            )
            if type(state["seeded"]) is not bool:
                raise StateError(f"state 'seeded' must be true or false, got {state['seeded']!r}")
            obj.seeded = state["seeded"]
            t = int(state["t"])
            if not 0 <= t <= obj.steps:
                raise StateError(f"state t={t} outside [0, {obj.steps}]")
            obj.t = t
            gs = state["generator"]
            if gs is not None:
                gen = GradientNoise.from_state_dict(gs)
                if gen._entropy != obj._entropy or gen.dim != obj.dim or not math.isclose(gen.std, obj.std):
                    raise StateError("generator state does not belong to this plan")
                expected_t = t if obj.mechanism == "blt" else t - gen.stream * obj.steps_per_epoch
                if gen.t != expected_t:
                    raise StateError(f"generator is at step {gen.t}, the plan expects {expected_t}")
                obj._gen = gen
            elif t != 0:
                raise StateError("a plan after step 0 must carry its generator state")
        except StateError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, InvalidParameter) as e:
            raise StateError(f"cannot restore DP-FTRL noise state: {e}") from e
        return obj
