"""The zero-knowledge sumcheck (Hyrax §4 style): every prover message is a Pedersen commitment.

The same claims as the clear engine (``sumcheck.py``, whose round engine computes the round polynomials here
too); only the messages and the final check differ. Details below and in ``docs/zero-knowledge.md``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..commit.pedersen import random_scalar
from ..commit.sigma import (
    ProductProof,
    PScalar,
    VScalar,
    ZeroAccumulator,
    commit_values,
    linear_p,
    linear_v,
    prove_product,
    verify_product,
)
from ..errors import ProofFormatError
from ..field import MODULUS as R
from ..field import Fr
from .sumcheck import Relation, _eq_point, default_engine, eq_eval

# =========================================================================================================
# zero-knowledge mode (Hyrax §4 style): every prover message is a Pedersen commitment
# =========================================================================================================
#
# Round i: the prover commits to p_i(0), p_i(2), …, p_i(d) (fresh blindings) and sends the points. The verifier
# derives C_{p(1)} = C_claim − C_{p(0)} (so p(0) + p(1) = claim holds by construction) and the next claim's
# commitment C_next = Σ_t L_t(r_i)·C_{p(t)} (L_t the Lagrange basis on 0..d), lazily (no group operation per
# round, see zkdl.commit.sigma.VScalar). At the end the prover commits to the final value of every SECRET table;
# public tables' finals are computed by both sides. The relation becomes a linear combination, with public
# coefficients (c_j, eq(u, r), public finals), of committed secret finals and committed products of them
# (Hyrax proofs of product: one per distinct product of two, chained for three); "relation − last claim = 0"
# goes into the caller's ZeroAccumulator, which proves all zero checks at once. See docs/zero-knowledge.md.
#
# Transcript: sumcheck-zk/shape, sumcheck-zk/terms, sumcheck-zk/coefficients, sumcheck-zk/public,
# (sumcheck-zk/eq-point), sumcheck-zk/claim (G1), per round sumcheck-zk/round (d points) then sumcheck-zk/r,
# sumcheck-zk/finals (points of the secret finals), then each product proof (zkdl.commit.sigma labels).


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


def _start_zk(transcript, num_vars: int, relation: Relation, eq_point, public: frozenset[int], claim_pt) -> None:
    transcript.absorb_shape("sumcheck-zk/shape", (num_vars, relation.degree, relation.n_tables, len(relation.terms)))
    flat: list[int] = []
    for _, ix in relation.terms:
        flat += [len(ix), *ix]
    transcript.absorb_shape("sumcheck-zk/terms", flat)
    transcript.absorb_frs("sumcheck-zk/coefficients", [c for c, _ in relation.terms])
    transcript.absorb_shape("sumcheck-zk/public", sorted(public))
    if relation.eq_weighted:
        transcript.absorb_frs("sumcheck-zk/eq-point", [int(x) % R for x in eq_point])
    transcript.absorb_g1("sumcheck-zk/claim", claim_pt)


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
    """Zero-knowledge sumcheck proof: per round the commitments to p(0), p(2), …, p(d) (d points); the
    commitments to the secret tables' finals; per planned product its commitment and proof of product."""

    rounds: tuple[tuple[Any, ...], ...]
    finals: tuple[Any, ...]
    products: tuple[tuple[Any, ProductProof], ...]

    def write(self, w) -> None:
        """Append to a ``zkdl.serialize.Writer`` (the shape is public; counts are written and checked)."""
        for msg in self.rounds:
            w.write_g1s(list(msg))
        w.write_g1s(list(self.finals))
        for cz, pr in self.products:
            w.write_g1(cz)
            pr.write(w)

    @classmethod
    def read(cls, r, num_vars: int, relation: Relation, public=frozenset()) -> ZkSumcheckProof:
        """Read a proof of the public shape (``public``: indices of the public tables); any other count is a
        ``ProofFormatError``; points are checked on the curve and in the subgroup."""
        plan = _plan(relation, _check_public(public, relation))
        d = relation.degree
        rounds = tuple(tuple(r.read_g1s(allow_identity=True, count=d)) for _ in range(num_vars))
        finals = tuple(r.read_g1s(allow_identity=True, count=len(plan.secret)))
        products = []
        for _ in plan.products:
            cz = r.read_g1(allow_identity=True)
            products.append((cz, ProductProof.read(r)))
        return cls(rounds, finals, tuple(products))

    def field_elements(self) -> list[int]:
        """Every field element in the proof (only the product proofs' responses)."""
        return [z for _, pr in self.products for z in pr.field_elements()]

    def points(self) -> list[Any]:
        out = [p for m in self.rounds for p in m] + list(self.finals)
        for cz, pr in self.products:
            out += [cz, *pr.points()]
        return out

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
    committed ``claim``. Tables in ``public`` are known to the verifier (their finals are not committed).
    Adds the final check to ``acc`` (``ValueError`` there if the claim is false: an honest prover cannot prove
    it). Blindings from the OS CSPRNG unless ``rng`` (tests only)."""
    if not isinstance(claim, PScalar):
        raise TypeError("prove_zk needs the claim as a PScalar (value and blinding)")
    eng = engine if engine is not None else default_engine(tables, relation, eq_point, claim.value)
    pub = _check_public(public, relation)
    plan = _plan(relation, pub)
    _start_zk(transcript, eng.n, relation, eq_point, pub, claim.commitment(params))
    d = eng.d
    cur = claim
    rounds = []
    point: list[int] = []
    for _ in range(eng.n):
        msg = eng.message()
        sent = [msg[0], *msg[2:]]
        blinds = [random_scalar(rng) for _ in sent]
        pts = commit_values(params, sent, blinds)
        ps = [PScalar(v, b) for v, b in zip(sent, blinds)]
        for p, pt in zip(ps, pts):
            p._point.append(pt)
        transcript.absorb_g1s("sumcheck-zk/round", pts)
        r = transcript.challenge_fr("sumcheck-zk/r")
        evals = [ps[0], cur - ps[0], *ps[1:]]
        cur = linear_p(list(zip(lagrange_coeffs(d + 1, r), evals)))
        rounds.append(tuple(pts))
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
    products = []
    for key, left, right in plan.products:
        z, pr = prove_product(params, vals[left], vals[right], transcript, rng=rng)
        vals[key] = z
        products.append((z.commitment(params), pr))
    pub_values = {k: finals[k] for k in sorted(pub)}
    eq_value = eq_eval(_eq_point(eq_point), point) if relation.eq_weighted else 1
    total = _final_combination(plan, vals, pub_values, eq_value, linear_p)
    acc.add(total - cur, "sumcheck final check")
    proof = ZkSumcheckProof(tuple(rounds), tuple(f_pts), tuple(products))
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
    if relation.eq_weighted and (eq_point is None or len(eq_point) != num_vars):
        raise ValueError(f"an eq-weighted relation over {num_vars} variables needs an eq point of that length")
    if len(proof.rounds) != num_vars:
        raise ProofFormatError(f"ZK sumcheck proof has {len(proof.rounds)} rounds, expected {num_vars}")
    if any(len(m) != d for m in proof.rounds):
        raise ProofFormatError(f"ZK sumcheck round message of wrong size (expected {d} commitments)")
    if len(proof.finals) != len(plan.secret):
        raise ProofFormatError(
            f"ZK sumcheck proof has {len(proof.finals)} final commitments, expected {len(plan.secret)}"
        )
    if len(proof.products) != len(plan.products):
        raise ProofFormatError(
            f"ZK sumcheck proof has {len(proof.products)} product proofs, expected {len(plan.products)}"
        )
    pts = [p for m in proof.rounds for p in m] + list(proof.finals) + [cz for cz, _ in proof.products]
    if any(not isinstance(p, G1Point) for p in pts) or any(
        not isinstance(pr, ProductProof) for _, pr in proof.products
    ):
        raise ProofFormatError("ZK sumcheck proof holds an object that is not a G1 point / product proof")
    _start_zk(transcript, num_vars, relation, eq_point, pub, claim.commitment(params))
    cur = claim
    point: list[int] = []
    for msg in proof.rounds:
        vs = [VScalar(p) for p in msg]
        transcript.absorb_g1s("sumcheck-zk/round", list(msg))
        r = transcript.challenge_fr("sumcheck-zk/r")
        evals = [vs[0], cur - vs[0], *vs[1:]]
        cur = linear_v(list(zip(lagrange_coeffs(d + 1, r), evals)))
        point.append(r)
    vals: dict[Key, VScalar] = {(k,): VScalar(p) for k, p in zip(plan.secret, proof.finals)}
    transcript.absorb_g1s("sumcheck-zk/finals", list(proof.finals))
    for (key, left, right), (cz, pr) in zip(plan.products, proof.products):
        vals[key] = verify_product(params, vals[left], vals[right], VScalar(cz), pr, transcript, batch=acc.batch)
    pub_values = {}
    for k in sorted(pub):
        v = public[k](tuple(point))
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"public[{k}](point) must return an int, got {type(v).__name__}")
        pub_values[k] = v % R
    eq_value = eq_eval(_eq_point(eq_point), point) if relation.eq_weighted else 1
    total = _final_combination(plan, vals, pub_values, eq_value, linear_v)
    acc.add(total - cur, "sumcheck final check")
    return ZkSumcheckResult(tuple(point), {k: vals[(k,)] for k in plan.secret}, pub_values)
