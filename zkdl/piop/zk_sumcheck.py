"""The zero-knowledge sumcheck: clear round messages of the relation plus a committed random mask polynomial.

The same claims as the clear engine (``sumcheck.py``, whose round engine computes the relation's round
polynomials here too); the claim is committed, the round messages are masked, the finals of the secret tables
are committed. Details below and in ``docs/zero-knowledge.md``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..commit import sigma
from ..commit.pedersen import commit_vector, random_scalar
from ..commit.sigma import (
    PScalar,
    VScalar,
    ZeroAccumulator,
    commit_values,
    linear_p,
    linear_v,
)
from ..errors import ProofFormatError, SetupError
from ..field import MODULUS as R
from ..field import Fr
from .sumcheck import Relation, _eq_point, default_engine, eq_eval

# =========================================================================================================
# zero-knowledge mode: the sumcheck of f + ρ·m, m a committed random mask (Libra-style masking)
# =========================================================================================================
#
# Claim: Σ_x f(x) = s for the committed s (C_claim), f(x) = (eq(u, x)·) Σ_j c_j Π_{k∈term_j} f_k(x).
#
# 1. The prover draws the mask m(x) = a_0 + Σ_i m_i(x_i), m_i(X) = Σ_{t=1..d} m_{i,t} X^t (K = n·d + 1 uniform
#    coefficients, the vector (a_0, m_{1,1..d}, …, m_{n,1..d})), sends C_m, a vector commitment to them over the
#    K vector generators the accumulator allocates (ZeroAccumulator.allocate), and the verifier draws ρ ≠ 0.
# 2. The prover sends S' = s + ρ·M in the clear, M = Σ_x m(x) = 2^n·a_0 + 2^{n−1}·Σ_{i,t} m_{i,t}.
# 3. Clear sumcheck of h = f + ρ·m with claim S': per round the evaluations p_i(0), p_i(2), …, p_i(d) (field
#    elements; p_i(1) = claim_i − p_i(0)), the challenge r_i, claim_{i+1} = p_i(r_i).
# 4. The prover commits the finals of the secret tables and the products the relation needs (planned below;
#    their proofs are deferred to the accumulator's batched proof of product); public tables' finals are
#    computed by both sides. F = the committed relation
#    value at r (a linear combination, public coefficients, of committed finals and products).
# 5. The verifier draws γ; the prover commits Y = <m, w_M + γ·w_r> (w_M the weights of M, w_r = (1, r_i^t))
#    and registers "Y = <m, w_M + γ·w_r>" with the accumulator (ZeroAccumulator.add_dot), which proves every
#    sumcheck's mask at the end, one batched proof of dot product per chunk of slots. The zero check
#        C_claim + γ·F + ρ·Y − (S' + γ·claim_n) = 0,
#    i.e. (s + ρM − S') + γ·(f(r) + ρ·m(r) − claim_n) = 0, goes into the caller's ZeroAccumulator.
#
# Zero knowledge: for ρ ≠ 0 the clear messages (S', p_1, …, p_n) are uniform among the vectors that pass the
# round checks, whatever f is (the mask's map to them has full rank n·d + 1, the dimension of that space);
# everything else is a hiding commitment or a Σ-protocol response. Soundness: C_m is fixed before ρ, so h is
# a fixed polynomial of degree ≤ d per variable and the clear sumcheck is sound for it; both brackets of the
# zero check are fixed before γ. docs/zero-knowledge.md and docs/soundness.md have the arguments.
#
# Transcript: sumcheck-zk/shape, sumcheck-zk/terms, sumcheck-zk/coefficients, sumcheck-zk/public,
# (sumcheck-zk/eq-point), sumcheck-zk/mask (G1), sumcheck-zk/rho,
# sumcheck-zk/masked-sum (Fr), per round sumcheck-zk/round (d Fr) then sumcheck-zk/r, sumcheck-zk/finals
# (points of the secret finals), sumcheck-zk/products (points of the planned products), sumcheck-zk/gamma,
# sumcheck-zk/mask-value (G1); the mask's dot product is proven by the accumulator. The claim's commitment is not
# absorbed: the caller must have bound every point it depends on (it is derived from received points, public
# constants and challenges, which the transcript already holds; docs/transcript.md, rule 5).


def mask_length(num_vars: int, degree: int) -> int:
    """Coefficients of the mask of a sumcheck of ``num_vars`` variables and degree ``degree``: ``n·d + 1``."""
    return num_vars * degree + 1


def mask_sum_weights(num_vars: int, degree: int) -> list[int]:
    """``w_M``: ``<m, w_M> = Σ_{x ∈ {0,1}^n} m(x)`` for the mask vector ``m``."""
    half = pow(2, num_vars - 1, R) if num_vars else 0
    return [pow(2, num_vars, R)] + [half] * (num_vars * degree)


def mask_point_weights(point: Sequence[int], degree: int) -> list[int]:
    """``w_r``: ``<m, w_r> = m(r)`` (``1``, then ``r_i^t`` for t = 1..d per round)."""
    out = [1]
    for r in point:
        p = 1
        for _ in range(degree):
            p = p * r % R
            out.append(p)
    return out


def mask_check_weights(num_vars: int, degree: int, point: Sequence[int], gamma: int) -> list[int]:
    """``w_M + γ·w_r``: the weights of the committed mask value ``Y``."""
    return [(a + gamma * b) % R for a, b in zip(mask_sum_weights(num_vars, degree), mask_point_weights(point, degree))]


def mask_round_values(mask: Sequence[int], num_vars: int, degree: int, round_index: int, prefix: int) -> list[int]:
    """The mask's round polynomial q_i at t = 0..d: ``q_i(X) = Σ_{x_{>i}} m(r_{<i}, X, x_{>i})``, given
    ``prefix = a_0 + Σ_{j<i} m_j(r_j)`` (round indices from 0)."""
    d, i = degree, round_index
    rest = num_vars - i - 1
    coeffs = mask[1 + i * d : 1 + (i + 1) * d]
    tail = 0
    if rest:
        later = sum(mask[1 + (i + 1) * d :]) % R  # Σ_{j>i} m_j(1)
        tail = later * pow(2, rest - 1, R)
    scale = pow(2, rest, R)
    out = []
    for t in range(d + 1):
        mt = 0
        p = 1
        for c in coeffs:
            p = p * t
            mt += c * p
        out.append((scale * (prefix + mt) + tail) % R)
    return out


def mask_at(mask: Sequence[int], degree: int, round_index: int, r: int) -> int:
    """``m_i(r)`` for round ``round_index``."""
    coeffs = mask[1 + round_index * degree : 1 + (round_index + 1) * degree]
    acc, p = 0, 1
    for c in coeffs:
        p = p * r % R
        acc += c * p
    return acc % R


@functools.lru_cache(maxsize=8)
def _lagrange_inv_denominators(n_points: int) -> tuple[int, ...]:
    out = []
    for i in range(n_points):
        den = 1
        for j in range(n_points):
            if j != i:
                den = den * (i - j) % R
        out.append(pow(den, -1, R))
    return tuple(out)


def lagrange_coeffs(n_points: int, x: int) -> list[int]:
    """``[L_0(x), …, L_{n−1}(x)]`` for the nodes 0..n−1: ``p(x) = Σ_t L_t(x)·p(t)`` for deg p < n."""
    x %= R
    if x < n_points:
        return [1 if t == x else 0 for t in range(n_points)]
    diffs = [(x - j) % R for j in range(n_points)]
    prefix = [1] * (n_points + 1)  # Π_{j<i} (x − j)
    for j in range(n_points):
        prefix[j + 1] = prefix[j] * diffs[j] % R
    inv = _lagrange_inv_denominators(n_points)
    out = [0] * n_points
    suffix = 1  # Π_{j>i} (x − j)
    for i in range(n_points - 1, -1, -1):
        out[i] = prefix[i] * suffix % R * inv[i] % R
        suffix = suffix * diffs[i] % R
    return out


Key = tuple[int, ...]


@dataclass(frozen=True)
class _Plan:
    """Which committed products the final check needs: ``products`` in proof order as (key, left, right),
    where a key of one index is a secret final and a longer key a product; ``terms`` as (coefficient, public
    table indices, key of the secret part or ())."""

    products: tuple[tuple[Key, Key, Key], ...]
    terms: tuple[tuple[int, tuple[int, ...], Key], ...]
    secret: tuple[int, ...]


def _plan(relation: Relation, public: frozenset[int]) -> _Plan:
    seen: set[Key] = set()
    products: list[tuple[Key, Key, Key]] = []
    terms = []
    for c, ix in relation.terms:
        pub = tuple(k for k in ix if k in public)
        sec = tuple(sorted(k for k in ix if k not in public))
        if len(sec) == 3:
            pairs = [(sec[0], sec[1]), (sec[0], sec[2]), (sec[1], sec[2])]
            rest = [sec[2], sec[1], sec[0]]
            j = next((i for i, p in enumerate(pairs) if p in seen), 0)
            pair = pairs[j]
            if pair not in seen:
                seen.add(pair)
                products.append((pair, pair[:1], pair[1:]))
            if sec not in seen:
                seen.add(sec)
                products.append((sec, pair, (rest[j],)))
        elif len(sec) == 2 and sec not in seen:
            seen.add(sec)
            products.append((sec, sec[:1], sec[1:]))
        terms.append((c, pub, sec))
    secret = tuple(k for k in range(relation.n_tables) if k not in public)
    return _Plan(tuple(products), tuple(terms), secret)


def _check_public(public, relation: Relation) -> frozenset[int]:
    pub = frozenset(int(k) for k in public)
    if any(not 0 <= k < relation.n_tables for k in pub):
        raise ValueError(f"public table indices {sorted(pub)} out of range for {relation.n_tables} tables")
    return pub


def _start_zk(transcript, num_vars: int, relation: Relation, eq_point, public: frozenset[int]) -> None:
    """Absorb the relation's description. The claim's commitment is not absorbed: the caller's claim is derived
    from points and challenges the transcript already holds (``docs/transcript.md``, rule 5), and the verifier
    would pay one MSM per sumcheck to materialize it."""
    transcript.absorb_shape("sumcheck-zk/shape", (num_vars, relation.degree, relation.n_tables, len(relation.terms)))
    flat: list[int] = []
    for _, ix in relation.terms:
        flat += [len(ix), *ix]
    transcript.absorb_shape("sumcheck-zk/terms", flat)
    transcript.absorb_frs("sumcheck-zk/coefficients", [c for c, _ in relation.terms])
    transcript.absorb_shape("sumcheck-zk/public", sorted(public))
    if relation.eq_weighted:
        transcript.absorb_frs("sumcheck-zk/eq-point", [int(x) % R for x in eq_point])


def _final_combination(plan: _Plan, vals: dict, pub_values: dict[int, int], eq_value: int, linear):
    """The committed relation value: Σ_j (c_j · eq · Π public finals) · (committed secret part), plus the
    all-public terms as a constant."""
    items = []
    const = 0
    for c, pub, key in plan.terms:
        coef = c * eq_value % R
        for k in pub:
            coef = coef * pub_values[k] % R
        if key:
            items.append((coef, vals[key]))
        else:
            const += coef
    return linear(items) + const % R


@dataclass(frozen=True)
class ZkSumcheckProof:
    """Zero-knowledge sumcheck proof: the mask commitment and the masked sum; per round ``p(0), p(2), …, p(d)``
    (field elements); the commitments to the secret tables' finals and to the planned products; the commitment
    ``Y`` to the mask's value (the products and the mask's dot product are proven by the accumulator)."""

    mask: Any
    masked_sum: int
    rounds: tuple[tuple[int, ...], ...]
    finals: tuple[Any, ...]
    products: tuple[Any, ...]
    mask_value: Any

    def write(self, w) -> None:
        """Append to a ``zkdl.serialize.Writer`` (the shape is public; counts are written and checked)."""
        w.write_g1(self.mask)
        w.write_fr(self.masked_sum)
        for msg in self.rounds:
            w.write_frs(list(msg))
        w.write_g1s(list(self.finals))
        w.write_g1s(list(self.products))
        w.write_g1(self.mask_value)

    @classmethod
    def read(cls, r, num_vars: int, relation: Relation, public=frozenset()) -> ZkSumcheckProof:
        """Read a proof of the public shape (``public``: indices of the public tables); any other count is a
        ``ProofFormatError``; points are checked on the curve and in the subgroup, field elements canonical."""
        plan = _plan(relation, _check_public(public, relation))
        d = relation.degree
        mask = r.read_g1(allow_identity=True)
        masked_sum = r.read_fr()
        rounds = tuple(tuple(r.read_frs(count=d)) for _ in range(num_vars))
        finals = tuple(r.read_g1s(allow_identity=True, count=len(plan.secret)))
        products = tuple(r.read_g1s(allow_identity=True, count=len(plan.products)))
        mask_value = r.read_g1(allow_identity=True)
        return cls(mask, masked_sum, rounds, finals, products, mask_value)

    def field_elements(self) -> list[int]:
        """Every field element in the proof: the masked sum and the round messages."""
        return [self.masked_sum, *(x for m in self.rounds for x in m)]

    def points(self) -> list[Any]:
        return [self.mask, *self.finals, *self.products, self.mask_value]

    @property
    def n_bytes(self) -> int:
        """Serialized size."""
        from ..serialize import Writer

        w = Writer()
        self.write(w)
        return len(w)


@dataclass(frozen=True)
class ZkSumcheckResult:
    """The point ``r`` (x_1 first); ``finals``: the committed final value of every secret table (table index →
    ``PScalar`` for the prover, ``VScalar`` for the verifier), each a committed claim ``f_k(r)`` the caller must
    discharge; ``public_values``: the public tables' finals."""

    point: tuple[int, ...]
    finals: dict[int, Any]
    public_values: dict[int, int]


def _check_capacity(params, num_vars: int, degree: int) -> int:
    k = mask_length(num_vars, degree)
    if k > sigma.DOT_CHUNK:
        raise SetupError(
            f"the mask of a zero-knowledge sumcheck over {num_vars} variables has {k} coefficients, more than the "
            f"{sigma.DOT_CHUNK} slots of a chunk"
        )
    if k > params.capacity:
        raise SetupError(
            f"the mask of a zero-knowledge sumcheck over {num_vars} variables needs {k} vector generators; "
            f"the public parameters hold {params.capacity}"
        )
    return k


def prove_zk(
    params,
    tables: Sequence[Fr],
    relation: Relation,
    transcript,
    *,
    claim: PScalar,
    eq_point: Sequence[int] | None = None,
    public: frozenset[int] | Sequence[int] = frozenset(),
    acc: ZeroAccumulator,
    rng: Any = None,
    engine=None,
) -> tuple[ZkSumcheckProof, ZkSumcheckResult]:
    """Zero-knowledge sumcheck of ``Σ_x (eq(u,x)·) Σ_j c_j Π_{k∈term_j} f_k(x) = claim.value`` for the
    committed ``claim``, whose commitment the transcript must already bind (the caller absorbed every point it
    is derived from; it is not absorbed here). Tables in ``public`` are known to the verifier (their finals are
    not committed). Adds the final check to ``acc`` (``ValueError`` there if the claim is false: an honest prover
    cannot prove it). Randomness (mask, blindings) from the OS CSPRNG unless ``rng`` (tests only)."""
    if not isinstance(claim, PScalar):
        raise TypeError("prove_zk needs the claim as a PScalar (value and blinding)")
    eng = engine if engine is not None else default_engine(tables, relation, eq_point, claim.value)
    pub = _check_public(public, relation)
    plan = _plan(relation, pub)
    n, d = eng.n, eng.d
    k_mask = _check_capacity(params, n, d)
    _start_zk(transcript, n, relation, eq_point, pub)
    mask = [random_scalar(rng) for _ in range(k_mask)]
    mask_blind = random_scalar(rng)
    offset = acc.allocate(k_mask)
    mask_pt = commit_vector(params, mask, mask_blind, offset=offset)
    transcript.absorb_g1("sumcheck-zk/mask", mask_pt)
    rho = transcript.challenge_nonzero_fr("sumcheck-zk/rho")  # ρ = 0 would send f's own rounds
    masked_sum = (claim.value + rho * sum(a * b for a, b in zip(mask, mask_sum_weights(n, d)))) % R
    transcript.absorb_fr("sumcheck-zk/masked-sum", masked_sum)
    cur = masked_sum
    prefix = mask[0]  # a_0 + Σ_{j<i} m_j(r_j)
    rounds = []
    point: list[int] = []
    for i in range(n):
        msg = eng.message()
        q = mask_round_values(mask, n, d, i, prefix)
        p = [(a + rho * b) % R for a, b in zip(msg, q)]
        sent = (p[0], *p[2:])
        transcript.absorb_frs("sumcheck-zk/round", list(sent))
        r = transcript.challenge_fr("sumcheck-zk/r")
        cur = sum(c * e for c, e in zip(lagrange_coeffs(d + 1, r), [p[0], cur - p[0], *p[2:]])) % R
        prefix = (prefix + mask_at(mask, d, i, r)) % R
        rounds.append(sent)
        point.append(r)
        eng.bind(r)
    finals = eng.finals()
    f_blinds = [random_scalar(rng) for _ in plan.secret]
    f_pts = commit_values(params, [finals[k] for k in plan.secret], f_blinds)
    vals: dict[Key, PScalar] = {}
    for k, b, pt in zip(plan.secret, f_blinds, f_pts):
        vals[(k,)] = PScalar(finals[k], b)
        vals[(k,)]._point.append(pt)
    transcript.absorb_g1s("sumcheck-zk/finals", f_pts)
    for key, left, right in plan.products:  # chained: a key's factors are planned before it
        vals[key] = PScalar.fresh(vals[left].value * vals[right].value, rng)
    p_pts = commit_values(
        params, [vals[key].value for key, _, _ in plan.products], [vals[key].blind for key, _, _ in plan.products]
    )
    for (key, left, right), pt in zip(plan.products, p_pts):
        vals[key]._point.append(pt)
        acc.add_product(vals[left], vals[right], vals[key])
    transcript.absorb_g1s("sumcheck-zk/products", p_pts)
    pub_values = {k: finals[k] for k in sorted(pub)}
    eq_value = eq_eval(_eq_point(eq_point), point) if relation.eq_weighted else 1
    total = _final_combination(plan, vals, pub_values, eq_value, linear_p)
    gamma = transcript.challenge_fr("sumcheck-zk/gamma")
    weights = mask_check_weights(n, d, point, gamma)
    y = PScalar.fresh(sum(a * b for a, b in zip(mask, weights)), rng)
    transcript.absorb_g1("sumcheck-zk/mask-value", y.commitment(params))
    acc.add_dot(offset, weights, y, mask, mask_blind)
    acc.add(claim + total * gamma + y * rho - (masked_sum + gamma * cur), "sumcheck final check")
    proof = ZkSumcheckProof(mask_pt, masked_sum, tuple(rounds), tuple(f_pts), tuple(p_pts), y.commitment(params))
    return proof, ZkSumcheckResult(tuple(point), {k: vals[(k,)] for k in plan.secret}, pub_values)


def verify_zk(
    params,
    proof: ZkSumcheckProof,
    relation: Relation,
    num_vars: int,
    claim: VScalar,
    transcript,
    *,
    eq_point: Sequence[int] | None = None,
    public: dict[int, Any] | None = None,
    acc: ZeroAccumulator,
) -> ZkSumcheckResult:
    """Check a zero-knowledge sumcheck proof against the committed ``claim``; ``public[k](point)`` gives the
    final of public table ``k``. The final check is added to ``acc``: the proof is only verified once
    ``acc.verify`` passes. Returns the committed finals (``VScalar``) for the caller to discharge. Raises
    ``ProofFormatError`` / ``VerificationError``."""
    from py_arkworks_bls12381 import G1Point

    if not isinstance(claim, VScalar):
        raise TypeError("verify_zk needs the claim as a VScalar")
    public = dict(public or {})
    pub = _check_public(public.keys(), relation)
    plan = _plan(relation, pub)
    d = relation.degree
    k_mask = _check_capacity(params, num_vars, d)
    if relation.eq_weighted and (eq_point is None or len(eq_point) != num_vars):
        raise ValueError(f"an eq-weighted relation over {num_vars} variables needs an eq point of that length")
    if len(proof.rounds) != num_vars:
        raise ProofFormatError(f"ZK sumcheck proof has {len(proof.rounds)} rounds, expected {num_vars}")
    if any(len(m) != d for m in proof.rounds):
        raise ProofFormatError(f"ZK sumcheck round message of wrong size (expected {d} field elements)")
    if len(proof.finals) != len(plan.secret):
        raise ProofFormatError(
            f"ZK sumcheck proof has {len(proof.finals)} final commitments, expected {len(plan.secret)}"
        )
    if len(proof.products) != len(plan.products):
        raise ProofFormatError(
            f"ZK sumcheck proof has {len(proof.products)} product commitments, expected {len(plan.products)}"
        )
    pts = [proof.mask, *proof.finals, proof.mask_value, *proof.products]
    if any(not isinstance(p, G1Point) for p in pts):
        raise ProofFormatError("ZK sumcheck proof holds an object that is not a G1 point")
    fes = [proof.masked_sum, *(x for m in proof.rounds for x in m)]
    if any(not isinstance(x, int) or isinstance(x, bool) or not 0 <= x < R for x in fes):
        raise ProofFormatError("ZK sumcheck proof holds a value that is not a canonical field element")
    _start_zk(transcript, num_vars, relation, eq_point, pub)
    offset = acc.allocate(k_mask)
    transcript.absorb_g1("sumcheck-zk/mask", proof.mask)
    rho = transcript.challenge_nonzero_fr("sumcheck-zk/rho")
    transcript.absorb_fr("sumcheck-zk/masked-sum", proof.masked_sum)
    cur = proof.masked_sum
    point: list[int] = []
    for msg in proof.rounds:
        transcript.absorb_frs("sumcheck-zk/round", list(msg))
        r = transcript.challenge_fr("sumcheck-zk/r")
        cur = sum(c * e for c, e in zip(lagrange_coeffs(d + 1, r), [msg[0], cur - msg[0], *msg[1:]])) % R
        point.append(r)
    vals: dict[Key, VScalar] = {(k,): VScalar(p) for k, p in zip(plan.secret, proof.finals)}
    transcript.absorb_g1s("sumcheck-zk/finals", list(proof.finals))
    for (key, left, right), cz in zip(plan.products, proof.products):
        vals[key] = VScalar(cz)
        acc.add_product(vals[left], vals[right], vals[key])
    transcript.absorb_g1s("sumcheck-zk/products", list(proof.products))
    pub_values = {}
    for k in sorted(pub):
        v = public[k](tuple(point))
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"public[{k}](point) must return an int, got {type(v).__name__}")
        pub_values[k] = v % R
    eq_value = eq_eval(_eq_point(eq_point), point) if relation.eq_weighted else 1
    total = _final_combination(plan, vals, pub_values, eq_value, linear_v)
    gamma = transcript.challenge_fr("sumcheck-zk/gamma")
    weights = mask_check_weights(num_vars, d, point, gamma)
    transcript.absorb_g1("sumcheck-zk/mask-value", proof.mask_value)
    y = VScalar(proof.mask_value)
    acc.add_dot(offset, weights, y, proof.mask)
    acc.add(claim + total * gamma + y * rho - (proof.masked_sum + gamma * cur), "sumcheck final check")
    return ZkSumcheckResult(tuple(point), {k: vals[(k,)] for k in plan.secret}, pub_values)
