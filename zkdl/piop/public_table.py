"""Public tables: polynomials both sides know, written once.

A sumcheck's first tables are often *public*: eq weights of a claim point, a step mask, the selection matrix of
the batch schedule, a zero-padding indicator. The prover needs each as a table of field elements; the verifier
needs its multilinear extension at the sumcheck's final point and must compute it itself (never read it from
the proof). A :class:`PublicTable` is one object that gives both — ``table()`` for the prover, ``mle(point)``
for the verifier — so the two sides cannot drift apart.

Index convention (as everywhere): x_1 is the most significant index bit; an :class:`Outer` product puts its
left factor's variables first.

Building blocks:

* :class:`EqTable` ``scale·eq(u, x)``;
* :class:`EqCombination` ``Σ_i α_i·eq(u_i, x)`` (the combined weights of several claims);
* :class:`Ones` the constant 1 (a block of variables a relation sums over without weight);
* :class:`LessThan` the indicator ``[x < n]`` of the first n indices (padding of a dimension);
* :class:`Dense` a vector the verifier computes in full (schedule selection, step masks);
* :class:`Outer` ``f(x_left)·g(x_right)``;
* :class:`Combination` ``Σ_i c_i·f_i(x)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from ..field import MODULUS as R
from ..field import Fr
from ..field.backend import Backend
from .sumcheck import eq_eval


class PublicTable(ABC):
    """A public multilinear polynomial in ``num_vars`` variables."""

    num_vars: int

    @abstractmethod
    def table(self, backend: Backend | str | None = None) -> Fr:
        """Its 2^num_vars evaluations over the hypercube (the prover's table)."""

    @abstractmethod
    def mle(self, point: Sequence[int]) -> int:
        """Its multilinear extension at ``point`` (the verifier's value), in [0, r)."""


class EqTable(PublicTable):
    """``scale·eq(u, x)``."""

    def __init__(self, u: Sequence[int], scale: int = 1):
        self.u, self.scale, self.num_vars = list(u), int(scale) % R, len(u)

    def table(self, backend=None) -> Fr:
        return Fr.eq_table(self.u, backend=backend, scale=None if self.scale == 1 else self.scale)

    def mle(self, point) -> int:
        return self.scale * eq_eval(self.u, point) % R


class EqCombination(PublicTable):
    """``Σ_i α_i·eq(u_i, x)``: the weights that batch several claims on one table into one sumcheck."""

    def __init__(self, points: Sequence[Sequence[int]], alphas: Sequence[int], num_vars: int):
        self.points, self.alphas, self.num_vars = [list(p) for p in points], list(alphas), num_vars

    def table(self, backend=None) -> Fr:
        acc = Fr.zeros(1 << self.num_vars, backend)
        for a, p in zip(self.alphas, self.points):
            acc = Fr.eq_table(p, backend=backend, scale=a) + acc
        return acc

    def mle(self, point) -> int:
        return sum(a * eq_eval(p, point) for a, p in zip(self.alphas, self.points)) % R


class Ones(PublicTable):
    """The constant 1 over ``num_vars`` variables."""

    def __init__(self, num_vars: int):
        self.num_vars = num_vars

    def table(self, backend=None) -> Fr:
        return Fr.ones(1 << self.num_vars, backend)

    def mle(self, point) -> int:
        return 1


class Dense(PublicTable):
    """A vector of field elements that both sides compute in full; the verifier evaluates its MLE directly."""

    def __init__(self, values: Fr):
        n = len(values)
        if n & (n - 1):
            raise ValueError(f"a dense public table needs a power-of-two length, got {n}")
        self.values, self.num_vars = values, n.bit_length() - 1

    @classmethod
    def of_ints(cls, values: Sequence[int]) -> Dense:
        return cls(Fr.from_ints(values))

    def table(self, backend=None) -> Fr:
        return self.values

    def mle(self, point) -> int:
        return self.values.evaluate(list(point))


class LessThan(PublicTable):
    """The indicator ``[x < n]`` over ``size`` = 2^num_vars indices (1 on the first n, 0 on the padding)."""

    def __init__(self, n: int, size: int):
        self.n, self.size, self.num_vars = n, size, size.bit_length() - 1

    def _ints(self) -> list[int]:
        return [1] * self.n + [0] * (self.size - self.n)

    def table(self, backend=None) -> Fr:
        return Fr.from_ints(self._ints(), backend)

    def mle(self, point) -> int:
        return 1 if self.n >= self.size else Fr.from_ints(self._ints()).evaluate(list(point))


class Outer(PublicTable):
    """``left(x_1..x_a)·right(x_{a+1}..)``: the left factor's variables come first (they index the rows)."""

    def __init__(self, left: PublicTable, right: PublicTable):
        self.left, self.right, self.num_vars = left, right, left.num_vars + right.num_vars

    def table(self, backend=None) -> Fr:
        return Fr.outer(self.left.table(backend), self.right.table(backend))

    def mle(self, point) -> int:
        k = self.left.num_vars
        return self.left.mle(point[:k]) * self.right.mle(point[k:]) % R


class Combination(PublicTable):
    """``Σ_i c_i·f_i(x)`` over tables of one size."""

    def __init__(self, terms: Sequence[tuple[int, PublicTable]], num_vars: int):
        if any(t.num_vars != num_vars for _, t in terms):
            raise ValueError("the terms of a combination must have one number of variables")
        self.terms, self.num_vars = list(terms), num_vars

    def table(self, backend=None) -> Fr:
        acc = Fr.zeros(1 << self.num_vars, backend)
        for c, t in self.terms:
            acc = t.table(backend).axpy(c, acc)
        return acc

    def mle(self, point) -> int:
        return sum(c * t.mle(point) for c, t in self.terms) % R


def tables(publics: Sequence[PublicTable], backend=None) -> list[Fr]:
    """The prover's tables of several public polynomials."""
    return [p.table(backend) for p in publics]


def mles(publics: Sequence[PublicTable]) -> list:
    """The verifier's evaluators of several public polynomials (for ``VerifierChannel.sumcheck(public=…)``)."""
    return [p.mle for p in publics]
