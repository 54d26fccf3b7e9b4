"""Privacy accounting: zCDP (rho), pure epsilon-DP, (epsilon, delta) conversions and composition.

Facts used (Bun & Steinke 2016; Canonne, Kamath & Steinke 2020; Balle & Wang 2018; Dong, Roth & Su 2019):

* a Gaussian mechanism with L2 sensitivity Delta and noise std sigma is mu-GDP with mu = Delta / sigma, and
  rho-zCDP with rho = mu^2 / 2; the (discrete Gaussian, CKS) version is rho-zCDP with the same rho;
* epsilon-DP implies (epsilon^2 / 2)-zCDP; zCDP composes by adding rho; GDP composes by adding mu^2;
* exact (epsilon, delta) of mu-GDP:  delta(eps) = Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2);
* any rho-zCDP mechanism is (eps, delta)-DP with (CKS 2020, Prop. 12, from Asoodeh et al.)
  delta = min_{a > 1} exp((a - 1)(a rho - eps)) / (a - 1) * (1 - 1/a)^a,  tighter than the classical
  eps = rho + 2 sqrt(rho log(1/delta)) (Bun & Steinke 2016, Prop. 1.3), also provided.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from scipy import optimize, special

from .base import BudgetExceeded, InvalidParameter, check_positive, check_probability

__all__ = [
    "zCDP",
    "EpsDP",
    "Guarantee",
    "gaussian_delta",
    "gaussian_epsilon",
    "zcdp_to_approx",
    "zcdp_to_approx_bs16",
    "compose",
    "Accountant",
    "as_privacy",
]


@dataclass(frozen=True)
class zCDP:  # noqa: N801  (the name of the notion)
    """Request rho-zero-concentrated DP (Gaussian noise)."""

    rho: float

    def __post_init__(self):
        object.__setattr__(self, "rho", check_positive("rho", self.rho))

    def to_dict(self) -> dict[str, float]:
        """JSON form, accepted back by :func:`as_privacy`."""
        return {"rho": self.rho}

    def implied_rho(self) -> float:
        """The zCDP parameter this target implies."""
        return self.rho

    def scaled(self, factor: float) -> zCDP:
        """The target with ``factor`` times the budget (``scaled(0.5)`` twice composes back to this one)."""
        return zCDP(self.rho * factor)

    @property
    def pure_epsilon(self) -> float | None:
        """The epsilon of a pure-DP target (None: zCDP promises no pure epsilon)."""
        return None


@dataclass(frozen=True)
class EpsDP:
    """Request pure epsilon-DP (Laplace noise)."""

    epsilon: float

    def __post_init__(self):
        object.__setattr__(self, "epsilon", check_positive("epsilon", self.epsilon))

    def to_dict(self) -> dict[str, float]:
        """JSON form, accepted back by :func:`as_privacy`."""
        return {"epsilon": self.epsilon}

    def implied_rho(self) -> float:
        """The zCDP parameter this target implies (ε-DP implies ε²/2-zCDP)."""
        return self.epsilon**2 / 2.0

    def scaled(self, factor: float) -> EpsDP:
        """The target with ``factor`` times the budget (``scaled(0.5)`` twice composes back to this one)."""
        return EpsDP(self.epsilon * factor)

    @property
    def pure_epsilon(self) -> float | None:
        """The epsilon of a pure-DP target."""
        return self.epsilon


def as_privacy(privacy) -> zCDP | EpsDP:
    """Accept a :class:`zCDP` / :class:`EpsDP` or a dict ``{"rho": ..}`` / ``{"epsilon": ..}``."""
    if isinstance(privacy, (zCDP, EpsDP)):
        return privacy
    if isinstance(privacy, dict):
        if set(privacy) == {"rho"}:
            return zCDP(privacy["rho"])
        if set(privacy) == {"epsilon"}:
            return EpsDP(privacy["epsilon"])
    raise InvalidParameter(
        f"privacy must be zCDP(rho=...) or EpsDP(epsilon=...) (from dpstream.accounting), got {privacy!r}"
    )


# --------------------------------------------------------------------------------------------------------------
# conversions
# --------------------------------------------------------------------------------------------------------------


def gaussian_delta(epsilon: float, mu: float) -> float:
    """Exact delta(epsilon) of mu-GDP (Balle & Wang 2018, Dong-Roth-Su 2019)."""
    if epsilon < 0:
        raise InvalidParameter(f"epsilon must be >= 0, got {epsilon}")
    mu = check_positive("mu", mu)
    a = -epsilon / mu + mu / 2
    b = -epsilon / mu - mu / 2
    # e^eps Phi(b) computed in log space to avoid overflow for large eps
    second = math.exp(epsilon + special.log_ndtr(b)) if b > -1e300 else 0.0
    return max(0.0, float(special.ndtr(a)) - second)


def gaussian_epsilon(delta: float, mu: float) -> float:
    """Smallest epsilon >= 0 with delta(epsilon) <= delta for mu-GDP (exact Gaussian conversion)."""
    delta = check_probability("delta", delta)
    mu = check_positive("mu", mu)
    if gaussian_delta(0.0, mu) <= delta:
        return 0.0
    hi = 1.0
    while gaussian_delta(hi, mu) > delta:
        hi *= 2.0
    return float(optimize.brentq(lambda e: gaussian_delta(e, mu) - delta, 0.0, hi, xtol=1e-12, rtol=1e-12))


def zcdp_to_approx_bs16(rho: float, delta: float) -> float:
    """Bun-Steinke 2016 Prop. 1.3: rho-zCDP implies (rho + 2 sqrt(rho log 1/delta), delta)-DP."""
    rho = check_positive("rho", rho)
    delta = check_probability("delta", delta)
    return rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))


def zcdp_to_approx(rho: float, delta: float) -> float:
    """Tightest standard conversion of rho-zCDP to (epsilon, delta)-DP (CKS 2020, Prop. 12)."""
    rho = check_positive("rho", rho)
    delta = check_probability("delta", delta)
    ld = math.log(1.0 / delta)

    def eps_at(a: float) -> float:
        return a * rho + (ld + (a - 1.0) * math.log1p(-1.0 / a) - math.log(a)) / (a - 1.0)

    a0 = 1.0 + math.sqrt(ld / rho)  # near the optimum of the BS16-style bound
    res = optimize.minimize_scalar(lambda la: eps_at(1.0 + math.exp(la)), bracket=(math.log(a0) - 3, math.log(a0)))
    best = min(eps_at(1.0 + math.exp(res.x)), eps_at(a0))
    return max(0.0, min(best, zcdp_to_approx_bs16(rho, delta)))


# --------------------------------------------------------------------------------------------------------------
# the guarantee as data
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Guarantee:
    """What a mechanism promises, for event-level neighbouring streams (one item replaced by any allowed item).

    * ``rho``      : it is rho-zCDP (always set; pure epsilon-DP implies epsilon^2/2-zCDP);
    * ``epsilon``  : set when it is also pure epsilon-DP;
    * ``mu``       : set when it is exactly mu-GDP (a Gaussian linear mechanism with real-valued noise), which
      allows the exact Gaussian (epsilon, delta) conversion;
    * ``adaptive`` : the guarantee also holds when items are chosen adaptively from earlier answers;
    * ``seeded``   : the noise came from a user-supplied seed: reproducible, and therefore *not* private against
      anyone who knows the seed.  Use seeds for tests and demos only.
    * ``domain``   : the input domain the guarantee is stated for (JSON-able), e.g. ``{"bounds": [0.0, 1.0],
      "dim": 1}`` (every item a vector of ``dim`` reals in ``bounds``; None where the mechanism does not say);
    * ``relation`` : the neighbouring relation in words ("replace one item by any item of the domain").
    """

    rho: float
    epsilon: float | None = None
    mu: float | None = None
    neighbours: str = "event-level"
    adaptive: bool = True
    seeded: bool = False
    notes: tuple[str, ...] = field(default=())
    domain: dict | None = None
    relation: str = "replace one item by any item of the domain"

    def to_dp_event(self):
        """The guarantee as a ``dp_accounting`` DpEvent (needs the optional ``dp-accounting`` package): the
        GaussianDpEvent with noise multiplier 1/mu when mu-GDP is claimed, else a ZCDpEvent(rho) (a pure
        epsilon-DP claim also exports as zCDP: a Laplace event would claim more than epsilon-DP does)."""
        try:
            from dp_accounting import dp_event
        except ImportError:
            raise InvalidParameter(
                "exporting a guarantee needs the optional package dp-accounting (pip install dp-accounting)"
            ) from None
        if self.mu is not None:
            return dp_event.GaussianDpEvent(noise_multiplier=1.0 / self.mu)
        return dp_event.ZCDpEvent(rho=self.rho)

    def approx_dp(self, delta: float) -> float:
        """The epsilon of an (epsilon, delta)-DP guarantee implied by this one."""
        delta = check_probability("delta", delta)
        candidates = [zcdp_to_approx(self.rho, delta)]
        if self.mu is not None:
            candidates.append(gaussian_epsilon(delta, self.mu))
        if self.epsilon is not None:
            candidates.append(self.epsilon)
        return min(candidates)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Guarantee:
        d = dict(d)
        d["notes"] = tuple(d.get("notes", ()))
        if d.get("domain") is not None:
            d["domain"] = dict(d["domain"])
        return cls(**d)

    def __str__(self) -> str:
        parts = [f"{self.rho:.6g}-zCDP"]
        if self.epsilon is not None:
            parts.append(f"{self.epsilon:.6g}-DP")
        if self.mu is not None:
            parts.append(f"{self.mu:.6g}-GDP")
        s = ", ".join(parts) + f" ({self.neighbours}{', adaptive' if self.adaptive else ''})"
        if self.seeded:
            s += " [SEEDED: not private against anyone who knows the seed]"
        return s


def compose(*gs: Guarantee) -> Guarantee:
    """Sequential composition of guarantees (rho adds; epsilon adds if all are pure; mu^2 adds if all GDP)."""
    if not gs:
        raise InvalidParameter("compose() needs at least one guarantee")
    rho = sum(g.rho for g in gs)
    epsilons = [g.epsilon for g in gs if g.epsilon is not None]
    mus = [g.mu for g in gs if g.mu is not None]
    eps = sum(epsilons) if len(epsilons) == len(gs) else None
    mu = math.sqrt(sum(m**2 for m in mus)) if len(mus) == len(gs) else None
    return Guarantee(
        rho=rho,
        epsilon=eps,
        mu=mu,
        neighbours=gs[0].neighbours if all(g.neighbours == gs[0].neighbours for g in gs) else "mixed",
        adaptive=all(g.adaptive for g in gs),
        seeded=any(g.seeded for g in gs),
        domain=gs[0].domain if all(g.domain == gs[0].domain for g in gs) else None,
        relation=gs[0].relation if all(g.relation == gs[0].relation for g in gs) else "mixed",
    )


class Accountant:
    """A privacy filter: spend guarantees until the zCDP budget ``rho`` would be exceeded."""

    def __init__(self, rho: float):
        self.budget = check_positive("rho", rho)
        self.spent: list[Guarantee] = []

    @property
    def rho_spent(self) -> float:
        return sum(g.rho for g in self.spent)

    def spend(self, g: Guarantee) -> Guarantee:
        if self.rho_spent + g.rho > self.budget * (1 + 1e-12):
            raise BudgetExceeded(
                f"spending rho={g.rho:.6g} would exceed the budget {self.budget:.6g} "
                f"(already spent {self.rho_spent:.6g}); lower the mechanism's rho or raise the budget"
            )
        self.spent.append(g)
        return compose(*self.spent)
