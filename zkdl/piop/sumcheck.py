"""The one sumcheck engine: sums of products of multilinear tables, optionally eq-weighted.

Claim proven: ``Σ_{x ∈ {0,1}^n} eq(u, x)^[e] · Σ_j c_j · Π_{k ∈ term_j} f_k(x) = claim``, where ``f_k`` are
multilinear tables of 2^n entries (``Fr`` vectors), ``c_j`` public coefficients, each term a product of up to
3 tables (up to 2 when eq-weighted; the degree in each variable is at most 3), and ``eq(u, x)`` is present
when an ``eq_point`` u is given.

Variables are bound most-significant first (``docs/architecture.md``). Round ``i`` message: the evaluations
of the round polynomial ``p_i`` at ``t = 0..d`` where ``d`` is the degree of the relation. The verifier checks
the shape (degree), ``p_i(0) + p_i(1) = claim_i``, draws ``r_i`` and continues with ``claim_{i+1} = p_i(r_i)``.
At the end the prover states the evaluation ``f_k(r)`` of every table; the verifier checks that the relation
evaluated at those values (with ``eq(u, r)``, which it computes itself) equals the last claim and returns the
evaluation claims ``f_k(r) = v_k`` for the gadget to discharge (an opening of a commitment, or another
sumcheck). The prover's work per round is one kernel pass over the tables plus one fold per table: linear in
the table size in total.

Transcript schedule (``docs/transcript.md``): ``sumcheck/shape`` (n, d, number of tables), ``sumcheck/claim``,
then per round ``sumcheck/round`` (d+1 field elements) followed by the challenge ``sumcheck/r``, and finally
``sumcheck/finals`` (one evaluation per table).

The zero-knowledge variant (committed round messages and finals) is ``zk_sumcheck.py``; this module imports only
the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ProofFormatError, VerificationError
from ..field import MODULUS as R
from ..field import Fr, mont_to_int, scalar_limbs

MAX_DEGREE = 3


@dataclass(frozen=True)
class Relation:
    """The public shape of a sumcheck relation: which tables each term multiplies, with which coefficient.

    ``terms`` is a sequence of ``(coefficient, table indices)``; ``n_tables`` the number of distinct tables;
    ``eq_weighted`` whether every term is multiplied by ``eq(u, x)``.
    """

    n_tables: int
    terms: tuple[tuple[int, tuple[int, ...]], ...]
    eq_weighted: bool = False

    @classmethod
    def product(cls, n_tables: int, eq_weighted: bool = False) -> Relation:
        """``(eq ·) f_0 · f_1 ⋯``."""
        return cls(n_tables, ((1, tuple(range(n_tables))),), eq_weighted)

    def __post_init__(self):
        object.__setattr__(self, "terms", tuple((int(c) % R, tuple(ix)) for c, ix in self.terms))
        if not self.terms:
            raise ValueError("a relation needs at least one term")
        for _, ix in self.terms:
            if not ix or any(not 0 <= k < self.n_tables for k in ix):
                raise ValueError(f"term indices {ix} out of range for {self.n_tables} tables")
            if len(ix) + self.eq_weighted > MAX_DEGREE:
                raise ValueError(
                    f"a term of {len(ix)} tables{' times eq' if self.eq_weighted else ''} exceeds degree {MAX_DEGREE}"
                )

    @property
    def degree(self) -> int:
        return max(len(ix) for _, ix in self.terms) + self.eq_weighted

    def evaluate(self, values: Sequence[int], eq_value: int = 1) -> int:
        """The relation at one point, given the tables' values there (and eq(u, point))."""
        acc = 0
        for c, ix in self.terms:
            p = c
            for k in ix:
                p = p * values[k] % R
            acc += p
        return acc * (eq_value if self.eq_weighted else 1) % R


@dataclass(frozen=True)
class SumcheckProof:
    """Round messages (evaluations at 0..d per round) and the final table evaluations."""

    rounds: tuple[tuple[int, ...], ...]
    finals: tuple[int, ...]

    def write(self, w) -> None:
        """Append to a ``zkdl.serialize.Writer``: the shape is public, so only field elements are written."""
        for msg in self.rounds:
            w.write_frs(list(msg))
        w.write_frs(list(self.finals))

    @classmethod
    def read(cls, r, num_vars: int, relation: Relation) -> SumcheckProof:
        """Read a proof of the given public shape; any length other than the relation's is a format error."""
        d = relation.degree
        rounds = tuple(tuple(r.read_frs(count=d + 1)) for _ in range(num_vars))
        finals = tuple(r.read_frs(count=relation.n_tables))
        return cls(rounds, finals)

    @property
    def field_elements(self) -> int:
        return sum(len(m) for m in self.rounds) + len(self.finals)


@dataclass(frozen=True)
class SumcheckResult:
    """What a sumcheck reduces to: the point ``r`` (x_1 first) and one claim ``f_k(r) = values[k]`` per table."""

    point: tuple[int, ...]
    values: tuple[int, ...]


def _eq_point(eq_point: Sequence[int] | None) -> list[int]:
    if eq_point is None:
        raise ValueError("an eq-weighted relation needs an eq_point")
    return list(eq_point)


def eq_eval(u: Sequence[int], x: Sequence[int]) -> int:
    """eq(u, x) = Π (u_i x_i + (1 − u_i)(1 − x_i))."""
    if len(u) != len(x):
        raise ValueError(f"eq of points of different lengths {len(u)} and {len(x)}")
    acc = 1
    for a, b in zip(u, x):
        acc = acc * ((a * b + (1 - a) * (1 - b)) % R) % R
    return acc


def interpolate_at(evals: Sequence[int], x: int) -> int:
    """Value at x of the polynomial of degree len(evals)−1 taking ``evals[t]`` at t = 0, 1, …."""
    n = len(evals)
    x %= R
    if x < n:
        return evals[x] % R
    acc = 0
    for i, yi in enumerate(evals):
        num, den = 1, 1
        for j in range(n):
            if j != i:
                num = num * (x - j) % R
                den = den * (i - j) % R
        acc += yi * num * pow(den, -1, R)
    return acc % R


def _extend(evals: list[int], n_points: int) -> list[int]:
    """Evaluations at 0..n_points−1 of the polynomial given by ``evals`` at 0..len−1."""
    return evals + [interpolate_at(evals, t) for t in range(len(evals), n_points)]


def _start(transcript, num_vars: int, relation: Relation, claim: int, eq_point) -> None:
    transcript.absorb_shape("sumcheck/shape", (num_vars, relation.degree, relation.n_tables, len(relation.terms)))
    transcript.absorb_frs("sumcheck/coefficients", [c for c, _ in relation.terms])
    if relation.eq_weighted:
        transcript.absorb_frs("sumcheck/eq-point", list(eq_point))
    transcript.absorb_fr("sumcheck/claim", claim % R)


def default_engine(tables: Sequence[Fr], relation: Relation, eq_point: Sequence[int] | None, claim):
    """The round engine a sumcheck uses when its caller names none: the eq-factored one where it applies (an
    eq-weighted relation of ≤ 2 tables per term, a backend with fused kernels, a known claim), else the generic
    one. ``claim``: the claimed sum as an int (None: unknown)."""
    if claim is not None and eq_point is not None and EqFactoredEngine.applies(tables, relation):
        return EqFactoredEngine(tables, relation, eq_point, int(claim) % R)
    return _RoundEngine(tables, relation, eq_point)


class _RoundEngine:
    """The prover's side of the rounds, shared by the clear and the zero-knowledge sumcheck: validates the
    tables, builds ``eq(u)``, computes each round message with ``be.round_sums`` and folds on a challenge."""

    def __init__(self, tables: Sequence[Fr], relation: Relation, eq_point: Sequence[int] | None) -> None:
        if len(tables) != relation.n_tables:
            raise ValueError(f"relation expects {relation.n_tables} tables, got {len(tables)}")
        size = len(tables[0])
        if size < 1 or size & (size - 1) or any(len(t) != size for t in tables):
            raise ValueError("sumcheck tables must share one power-of-two length")
        n = size.bit_length() - 1
        if relation.eq_weighted:
            if eq_point is None or len(eq_point) != n:
                raise ValueError(f"an eq-weighted relation over {n} variables needs an eq point of length {n}")
            eq = Fr.eq_table(list(eq_point), backend=tables[0].backend)
        else:
            eq = None
        self.relation = relation
        self.n = n
        self.d = relation.degree
        self.cur = list(tables)
        self.eq = eq
        self.be = tables[0].backend

    def _term_tables(self, ix):
        return ([self.eq] if self.eq is not None else []) + [self.cur[k] for k in ix]

    def true_claim(self) -> int:
        claim = 0
        for c, ix in self.relation.terms:
            ts = self._term_tables(ix)
            prod = ts[0]
            for t in ts[1:]:
                prod = prod * t
            claim += c * prod.sum()
        return claim % R

    def message(self) -> list[int]:
        """The current round polynomial's evaluations at 0..d."""
        d = self.d
        msg = [0] * (d + 1)
        for c, ix in self.relation.terms:
            ts = self._term_tables(ix)
            raw = self.be.round_sums([t.limbs for t in ts])
            evals = [mont_to_int(row) for row in raw]
            evals = _extend(evals, d + 1)
            for t in range(d + 1):
                msg[t] = (msg[t] + c * evals[t]) % R
        return msg

    def bind(self, r: int) -> None:
        self.cur = [t.fold(r) for t in self.cur]
        if self.eq is not None:
            self.eq = self.eq.fold(r)

    def finals(self) -> tuple[int, ...]:
        return tuple(t[0] for t in self.cur)


class EqFactoredEngine:
    """Round engine for eq-weighted relations whose terms multiply at most two tables, on a backend with fused
    kernels: eq is factored out (round i's polynomial is eq(u_<i, r_<i)·eq(u_i, t)·s(t) with s of degree ≤ 2,
    s(t) = Σ_j E_i[j]·F(t, j) and E_i = eq(u_>i), halved each round by summing its halves), so no eq table is
    multiplied in or folded; s(1) follows from the running claim. The messages are the generic engine's
    (tested). The caller's tables are not modified: the first fold writes new arrays, later folds are in place.
    """

    def __init__(self, tables: Sequence[Fr], relation: Relation, eq_point: Sequence[int], claim: int) -> None:
        if not self.applies(tables, relation):
            raise ValueError("the eq-factored engine needs an eq-weighted relation of ≤ 2 tables per term")
        size = len(tables[0])
        if size < 2 or size & (size - 1) or any(len(t) != size for t in tables):
            raise ValueError("sumcheck tables must share one power-of-two length ≥ 2")
        self.n = size.bit_length() - 1
        if len(eq_point) != self.n:
            raise ValueError(f"an eq-weighted relation over {self.n} variables needs an eq point of length {self.n}")
        self.be = tables[0].backend
        kernels = self.be.fused()
        assert kernels is not None
        self.kernels = kernels
        self.relation, self.d = relation, relation.degree
        self.point = [int(x) % R for x in eq_point]
        self.E = Fr.eq_table(self.point[1:], backend=self.be).limbs
        self.cur = [t.limbs for t in tables]
        self.owned = False
        self.claim = int(claim) % R
        self.eqpre = 1
        self.i = 0
        self._msg: list[int] | None = None

    @staticmethod
    def applies(tables: Sequence[Fr], relation: Relation) -> bool:
        return (
            relation.eq_weighted
            and all(len(ix) <= 2 for _, ix in relation.terms)
            and len(tables) > 0
            and len(tables[0]) >= 2
            and tables[0].backend.fused() is not None
        )

    def _s_parts(self) -> tuple[int, int]:
        """s(0) and the t² coefficient of s."""
        h = self.cur[0].shape[0] // 2
        s0 = s2 = 0
        for c, ix in self.relation.terms:
            if len(ix) == 2:
                raw = self.kernels.gkr_sums([self.cur[ix[0]], self.cur[ix[1]]], self.E)
                s0 += c * mont_to_int(raw[1])
                s2 += c * mont_to_int(raw[3])
            else:
                s0 += c * mont_to_int(self.be.inner(self.E, self.cur[ix[0]][:h]))
        return s0 % R, s2 % R

    def _s1_direct(self) -> int:
        h = self.cur[0].shape[0] // 2
        hi = [Fr(t[h:], self.be) for t in self.cur]
        ev = Fr(self.E, self.be)
        acc = 0
        for c, ix in self.relation.terms:
            prod = hi[ix[0]] if len(ix) == 1 else hi[ix[0]] * hi[ix[1]]
            acc += c * prod.inner(ev)
        return acc % R

    def message(self) -> list[int]:
        s0, s2 = self._s_parts()
        u, eqpre = self.point[self.i], self.eqpre
        if u and eqpre:
            s1 = (self.claim * pow(eqpre, -1, R) - (1 - u) * s0) * pow(u, -1, R) % R
        else:  # probability ~2^-250 for a challenge point: sum the upper halves directly
            s1 = self._s1_direct()
        s_lin = (s1 - s0 - s2) % R
        self._coef = (u, eqpre, s0, s_lin, s2)
        self._msg = [self._at(t) for t in range(self.d + 1)]
        return list(self._msg)

    def _at(self, t: int) -> int:
        u, eqpre, s0, s_lin, s2 = self._coef
        return eqpre * ((1 - u) * (1 - t) + u * t) % R * ((s0 + s_lin * t + s2 * t * t) % R) % R

    def bind(self, r: int) -> None:
        assert self._msg is not None, "bind() before message()"
        u = self.point[self.i]
        self.claim = self._at(r % R)
        self.eqpre = self.eqpre * ((1 - u) * (1 - r) + u * r) % R
        c = scalar_limbs(r)
        if self.owned:
            self.cur = self.kernels.fold_many_inplace(self.cur, c)
        else:
            self.cur = [self.be.fold(t, c) for t in self.cur]
            self.owned = True
        if self.E.shape[0] > 1:
            self.E = self.kernels.halve_sum_inplace(self.E)
        self.i += 1
        self._msg = None

    def finals(self) -> tuple[int, ...]:
        return tuple(mont_to_int(self.be.to_host(t[:1])[0]) for t in self.cur)


def prove(
    tables: Sequence[Fr],
    relation: Relation,
    transcript,
    *,
    eq_point: Sequence[int] | None = None,
    claim: int | None = None,
    engine=None,
) -> tuple[SumcheckProof, SumcheckResult]:
    """Prove the relation over ``tables`` (each of 2^n entries). ``claim`` defaults to the true sum.

    Returns the proof and the reduced claims (point and table evaluations), which the caller must discharge.
    ``engine``: a specialised round engine for this relation (``message()``, ``bind(r)``, ``finals()``, ``n``,
    ``d``) that must produce exactly the generic rounds' messages; default: the generic engine.
    """
    if engine is None and claim is None:
        claim = _RoundEngine(tables, relation, eq_point).true_claim()
    eng = engine if engine is not None else default_engine(tables, relation, eq_point, claim)
    n = eng.n
    if claim is None:
        claim = eng.true_claim()
    _start(transcript, n, relation, claim, eq_point)

    rounds: list[tuple[int, ...]] = []
    point: list[int] = []
    for _ in range(n):
        msg = eng.message()
        rounds.append(tuple(msg))
        transcript.absorb_frs("sumcheck/round", msg)
        r = transcript.challenge_fr("sumcheck/r")
        point.append(r)
        eng.bind(r)
    finals = eng.finals()
    transcript.absorb_frs("sumcheck/finals", list(finals))
    return SumcheckProof(tuple(rounds), finals), SumcheckResult(tuple(point), finals)


def verify(
    proof: SumcheckProof,
    relation: Relation,
    num_vars: int,
    claim: int,
    transcript,
    *,
    eq_point: Sequence[int] | None = None,
) -> SumcheckResult:
    """Check a sumcheck proof; return the evaluation claims it reduces to. Raises ``VerificationError``."""
    d = relation.degree
    if len(proof.rounds) != num_vars:
        raise ProofFormatError(f"sumcheck proof has {len(proof.rounds)} rounds, expected {num_vars}")
    if any(len(m) != d + 1 for m in proof.rounds):
        raise ProofFormatError(f"sumcheck round message of wrong degree (expected {d + 1} evaluations)")
    if len(proof.finals) != relation.n_tables:
        raise ProofFormatError(f"sumcheck proof has {len(proof.finals)} final values, expected {relation.n_tables}")
    if relation.eq_weighted and (eq_point is None or len(eq_point) != num_vars):
        raise ValueError(f"an eq-weighted relation over {num_vars} variables needs an eq point of that length")
    values = [int(v) for m in proof.rounds for v in m] + [int(v) for v in proof.finals]
    if any(not 0 <= v < R for v in values):
        raise ProofFormatError("sumcheck proof contains a non-canonical field element")
    _start(transcript, num_vars, relation, claim, eq_point)
    cur = claim % R
    point: list[int] = []
    for i, msg in enumerate(proof.rounds):
        if (msg[0] + msg[1]) % R != cur:
            raise VerificationError(f"sumcheck round {i}: p(0) + p(1) does not match the running claim")
        transcript.absorb_frs("sumcheck/round", list(msg))
        r = transcript.challenge_fr("sumcheck/r")
        point.append(r)
        cur = interpolate_at(list(msg), r)
    eq_value = eq_eval(_eq_point(eq_point), point) if relation.eq_weighted else 1
    if relation.evaluate(proof.finals, eq_value) != cur:
        raise VerificationError("sumcheck final check failed: the stated table evaluations do not match")
    transcript.absorb_frs("sumcheck/finals", list(proof.finals))
    return SumcheckResult(tuple(point), tuple(proof.finals))
