"""The training proof: T steps of quantized SGD on an MLP, proven together (FAC4DNN) and verified.

The relation, tensor by tensor, and the order of every message are in ``docs/protocol.md``; the transcript
schedule in ``docs/transcript.md``. In short:

* Committed (the only multi-scalar multiplications): the statement's tensors ``X, Y, W0.l, b0.l, WT.l, bT.l``
  and, in the proof, the range tensor ``L`` (every range-checked integer as ≤16-bit limbs: ReLU signs and
  magnitudes, rescaling remainders, rescaled input gradients, ΔW, Δb, the output) with the range back-end's
  tables (``m`` for lookup, ``B`` for bits).
* Every other tensor (Z, A, G_A, G_Z, G_W, per-step weights) is *virtual*: claims on it are reduced by
  sumchecks to claims on committed tensors. All steps of a layer are stacked on a leading step axis, so each
  relation is one sumcheck over all steps (order-independent, after training).
* A claim registry reduces all claims on a committed tensor to one opening.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..commit.generators import N_MAX, PublicParams
from ..commit.pedersen import Commitment, Layout, Opening, commit, commit_int
from ..errors import ProofFormatError, StatementMismatch, VerificationError, ZkdlError
from ..field import MODULUS as R
from ..field import Fr
from ..gadgets.range_check import RangeLayout, make_range_backend
from ..piop import sumcheck as sc
from ..piop.claims import Claim, ClaimRegistry, prove_reduction, verify_reduction
from ..quant.fixedpoint import FixedPointParams
from ..quant.train import BatchSchedule, TrainingRun
from ..serialize import ContainerReader, ContainerWriter
from ..serialize.container import FLAG_TRANSPARENT, FORMAT_VERSION
from ..transcript import Transcript
from .channel import SECTIONS, ProverChannel, VerifierChannel
from .shapes import LimbSpec, Shapes, limb_specs, log2, pad_to, tensor_shape
from .statement import Statement
from .zk_channel import ZkProverChannel, ZkVerifierChannel

PROTOCOL_ID = "zkdl/train/v1"


# =========================================================================================================
# public structure shared by prover and verifier
# =========================================================================================================
@dataclass
class Public:
    """Everything both sides derive from the statement."""

    st: Statement
    sh: Shapes
    specs: dict[str, LimbSpec]
    layout: RangeLayout
    rows: np.ndarray  # (T, B) dataset row of each batch entry

    @classmethod
    def of(cls, st: Statement) -> Public:
        sh = st.shapes
        specs, layout = _range_layout(st)
        sched = BatchSchedule(st.n_rows, st.batch_size, st.schedule_seed)
        rows = np.stack([sched.rows(t) for t in range(st.steps)]).astype(np.int64)
        return cls(st, sh, specs, layout, rows)

    @property
    def L(self) -> int:
        return self.st.num_layers

    def nv(self, shape) -> int:
        return self.sh.nvars(shape)


def _range_layout(st: Statement) -> tuple[dict[str, LimbSpec], RangeLayout]:
    sh = st.shapes
    specs = limb_specs(st.params, st.num_layers, st.has_bias)
    segs = []
    for name, sp in specs.items():
        log_size = sum(log2(s) for s in tensor_shape(name, sh))
        for seg, bits in zip(sp.segment_names(), sp.limb_bits):
            segs.append((seg, log_size, bits))
    return specs, RangeLayout(segs)


def committed_log_sizes(st: Statement) -> dict[str, int]:
    """log2 of the (padded) size of every table committed for this statement: the statement tensors and the range
    back-end's tables. Cheap (no batch schedule)."""
    out = {name: (n - 1).bit_length() for name, n in st.expected_tables().items()}
    out.update(make_range_backend(st.range_backend).committed_log_sizes(_range_layout(st)[1]))
    return out


def generators_needed(st: Statement) -> int:
    """Vector generators the canonical layouts of this statement's commitments use (the widest row). Raises
    ``StatementMismatch`` beyond the canonical set (``N_MAX``): no proof of such a statement can be checked."""
    _check_parameters(st)  # before any size is computed: absurd steps or widths are rejected here
    try:
        sizes = committed_log_sizes(st)
    except ValueError as exc:  # a range-tensor segment beyond any representable size
        raise StatementMismatch(f"the statement's tensors are too large: {exc}") from exc
    need = max(Layout.for_length(1 << k).cols for k in sizes.values())
    if need > N_MAX:
        raise StatementMismatch(f"the statement needs rows of {need} generators, more than the {N_MAX} of the "
                                "canonical generator set")
    return need


def _lt_vec(n: int, size: int) -> list[int]:
    return [1] * n + [0] * (size - n)


def _mle(vec: Sequence[int], point: Sequence[int]) -> int:
    return Fr.from_ints(vec).evaluate(list(point))


def _lt_mle(n: int, size: int, point: Sequence[int]) -> int:
    """MLE of the indicator [i < n] over 'size' = 2^len(point) indices."""
    return 1 if n >= size else _mle(_lt_vec(n, size), point)


def _split(point: Sequence[int], *sizes: int) -> list[list[int]]:
    out, i = [], 0
    for s in sizes:
        k = log2(s)
        out.append(list(point[i : i + k]))
        i += k
    assert i == len(point)
    return out


def _prefix_mask(pt: Sequence[int], T: int, limit: int) -> list[int]:
    """c[t'] = Σ_{t' < t < limit} eq(pt, t) over T = 2^len(pt) steps: the weight of ΔW_{t'} in the MLE at pt of
    the step-stacked [t < limit]·W_t, W_t = W_0 − Σ_{t'<t} ΔW_{t'}."""
    e = Fr.eq_table(list(pt)).to_ints() if len(pt) else [1]
    out, acc = [0] * T, 0
    for tp in range(T - 1, -1, -1):
        out[tp] = acc
        if tp < limit:
            acc = (acc + e[tp]) % R
    return out


def _selection(pub: Public, pt_t: Sequence[int], pt_b: Sequence[int]) -> list[int]:
    """sel[i] = Σ_{t<T, b<B, row(t,b)=i} eq((pt_t, pt_b), (t, b)) over the padded dataset rows."""
    T, B = pub.st.steps, pub.st.batch_size
    e = Fr.eq_table(list(pt_t) + list(pt_b)).to_ints()
    Bp = pub.sh.batch
    sel = [0] * pub.sh.rows
    for t in range(T):
        for b in range(B):
            i = int(pub.rows[t, b])
            sel[i] = (sel[i] + e[t * Bp + b]) % R
    return sel


# =========================================================================================================
# the prover's tables
# =========================================================================================================
class Witness:
    """Stacked, padded int64 tensors of a training run and their field versions (built on demand)."""

    def __init__(self, pub: Public, run: TrainingRun, X: np.ndarray, Y: np.ndarray):
        self.pub = pub
        sh, st = pub.sh, pub.st
        T, Tp = st.steps, sh.steps
        traces = run.traces
        if len(traces) != T:
            raise ZkdlError(f"the training run has {len(traces)} step traces, the statement says {T} steps")
        self.ints: dict[str, np.ndarray] = {}
        self.ints["X"] = pad_to(X, (sh.rows, sh.widths[0]))
        self.ints["Y"] = pad_to(Y, (sh.rows, sh.widths[-1]))

        def stack(get, shape):
            out = np.zeros(shape, dtype=np.int64)
            for t, tr in enumerate(traces):
                v = get(tr)
                out[t][tuple(slice(0, a) for a in v.shape)] = v
            return out

        def layer_stack(l, attr, shape):
            return stack(lambda tr: getattr(tr.layers[l - 1], attr), shape)

        self.ints["A0"] = stack(lambda tr: tr.X, sh.act(0))
        self.ints["Ysched"] = stack(lambda tr: tr.Y, sh.act(pub.L))
        for l in range(1, pub.L + 1):
            for name, attr in (("Zp", "Z_rescaled"), ("RZ", "Z_remainder"), ("GZ", "G_Z")):
                self.ints[f"{name}{l}"] = layer_stack(l, attr, sh.act(l))
            self.ints[f"DW{l}"] = layer_stack(l, "dW", sh.weight(l))
            self.ints[f"RDW{l}"] = layer_stack(l, "dW_remainder", sh.weight(l))
            W = layer_stack(l, "W", sh.weight(l))
            final_w = pad_to(run.final.weights[l - 1], sh.weight(l)[1:])
            W[T:Tp] = final_w  # padded steps change nothing: W_t = W_T
            self.ints[f"W{l}"] = W
            self.ints[f"W0.{l}"] = pad_to(run.initial.weights[l - 1], sh.weight(l)[1:])
            self.ints[f"WT.{l}"] = final_w
            if st.has_bias[l - 1]:
                self.ints[f"DB{l}"] = layer_stack(l, "db", sh.bias(l))
                self.ints[f"RDB{l}"] = layer_stack(l, "db_remainder", sh.bias(l))
                # the step-masked bias [t < T]·b_t: padded steps add no bias (their batches are empty)
                self.ints[f"b{l}"] = layer_stack(l, "b", sh.bias(l))
                self.ints[f"b0.{l}"] = pad_to(run.initial.biases[l - 1], sh.bias(l)[1:])
                self.ints[f"bT.{l}"] = pad_to(run.final.biases[l - 1], sh.bias(l)[1:])
            if l < pub.L:
                for name, attr in (("S", "S"), ("M", "relu_magnitude"), ("A", "A"), ("GA", "G_A_rescaled"),
                                   ("RGA", "G_A_remainder")):
                    self.ints[f"{name}{l}"] = layer_stack(l, attr, sh.act(l))
        self.ints["O"] = self.ints[f"Zp{pub.L}"]
        self.ints["GO"] = self.ints[f"GZ{pub.L}"]
        self.ints["XS"] = self.ints["X"]
        self.ints["YS"] = self.ints["Y"]
        for l in range(1, pub.L + 1):
            self.ints[f"IW{l}"] = self.ints[f"W0.{l}"]
            self.ints[f"SW{l}"] = self.ints[f"W{l}"]
            self.ints[f"FW{l}"] = self.ints[f"WT.{l}"]
            if st.has_bias[l - 1]:
                self.ints[f"IB{l}"] = self.ints[f"b0.{l}"]
                self.ints[f"SB{l}"] = self.ints[f"b{l}"]
                self.ints[f"FB{l}"] = self.ints[f"bT.{l}"]
        self.refresh()

    def refresh(self, *, check: bool = True) -> None:
        """Recompute the field tables and the range tensor from ``ints`` (after a test changed them).

        ``check=False`` skips the limb range check, so a cheating prover can put out-of-range limbs into L."""
        self._fr: dict[str, Fr] = {}
        limbs = {}
        for name, sp in self.pub.specs.items():
            for seg, arr in zip(sp.segment_names(), sp.limbs(self.ints[name], check=check)):
                limbs[seg] = arr
        self.L_values = self.pub.layout.assemble(limbs)

    def range_tensor(self) -> Fr:
        """The range tensor L as field elements (its segments are the limbs of the limbed tensors)."""
        if "__L__" not in self._fr:
            self._fr["__L__"] = Fr.from_int64(self.L_values)
        return self._fr["__L__"]

    def fr(self, name: str) -> Fr:
        if name == "L":
            return self.range_tensor()
        if name not in self._fr:
            self._fr[name] = Fr.from_int64(self.ints[name].reshape(-1))
        return self._fr[name]


# =========================================================================================================
# claims on range-checked (limbed) tensors: the prover states all limbs but the top one, which is derived
# =========================================================================================================
def _limbs_to_L(pub: Public, reg: ClaimRegistry, name: str, point, limb_values) -> None:
    for seg, v in zip(pub.specs[name].segment_names(), limb_values):
        reg.add(Claim("L", pub.layout.point_for(seg, point), v))


def _top_limb(sp: LimbSpec, value, lower):
    """value = Σ_i 2^(16i)·limb_i − offset  ⇒  the top limb, from the value and the lower limbs."""
    k = len(sp.limb_bits) - 1
    acc = value + sp.offset
    for i, v in enumerate(lower):
        acc = acc - (1 << (16 * i)) * v
    return acc * pow(1 << (16 * k), -1, R)


def _limb_claims_prove(ch, pub: Public, w: Witness, reg: ClaimRegistry, name: str, point, value):
    sp = pub.specs[name]
    lower = []
    if len(sp.limb_bits) > 1:
        L = w.range_tensor()
        segs = sp.segment_names()[:-1]
        lower = ch.values(f"limbs/{name}", [L[pub.layout.slice(seg)].evaluate(list(point)) for seg in segs])
    _limbs_to_L(pub, reg, name, point, [*lower, _top_limb(sp, value, lower)])


def _limb_claims_verify(ch, pub: Public, reg: ClaimRegistry, name: str, point, value):
    sp = pub.specs[name]
    lower = ch.values(f"limbs/{name}", len(sp.limb_bits) - 1) if len(sp.limb_bits) > 1 else []
    _limbs_to_L(pub, reg, name, point, [*lower, _top_limb(sp, value, lower)])


# =========================================================================================================
# per-step inner products: Σ_{t,k} eq(u_t, t)·P(t,k)·Q(t,k) (the matmuls, the bias gradient)
# =========================================================================================================
def _step_eq(u_t: Sequence[int], K: int) -> Fr:
    return Fr.outer(Fr.eq_table(list(u_t)), Fr.ones(K))


def _stepwise_prove(ch, u_t, tables: Sequence[Fr], K: int, claim):
    tabs = [_step_eq(u_t, K), *tables]
    point, vals = ch.sumcheck(tabs, sc.Relation.product(len(tabs)), claim, n_public=1)
    return point, vals[1:]


def _stepwise_verify(ch, u_t, n_tables: int, K: int, claim, what: str):
    nv = len(u_t) + log2(K)
    point, vals = ch.sumcheck(nv, sc.Relation.product(n_tables + 1), claim,
                              public=[lambda p: sc.eq_eval(u_t, p[: len(u_t)])], what=what)
    return point, vals[1:]


# =========================================================================================================
# the matmul-type relations of one layer (prover and verifier side by side)
# =========================================================================================================
def _relations_prove(ch, pub: Public, w: Witness, reg: ClaimRegistry, l: int, virt):
    st, sh = pub.st, pub.sh
    F, s = st.params["frac_bits"], st.params["lr_shift"]
    Tp, Bp, Din, Dout = sh.steps, sh.batch, sh.widths[l - 1], sh.widths[l]
    t = ch.transcript
    a_name = "A0" if l == 1 else f"A{l - 1}"
    A_in, Wl, GZ = w.fr(a_name), w.fr(f"W{l}"), w.fr(f"GZ{l}")
    bias = st.has_bias[l - 1]

    # forward: Z[t,b,j] = Σ_k A[t,b,k]·W[t,k,j] + 2^F·[b < B]·b^m[t,j]  with Z = 2^F·Z' + R_Z
    rho = t.challenge_frs(f"fwd{l}/point", log2(Tp) + log2(Bp) + log2(Dout))
    u_t, u_b, u_j = _split(rho, Tp, Bp, Dout)
    vals = [w.fr(f"Zp{l}").evaluate(rho), w.fr(f"RZ{l}").evaluate(rho)]
    if bias:
        vals.append(w.fr(f"b{l}").evaluate(u_t + u_j))  # the step-masked bias [t < T]·b_t (see the history)
    vals = ch.values(f"fwd{l}/claims", vals)
    zp, rz = vals[0], vals[1]
    claim = (1 << F) * zp + rz
    if bias:
        claim = claim - (1 << F) * _lt_mle(st.batch_size, Bp, u_b) * vals[2]
        virt.add(Claim(f"b{l}", u_t + u_j, vals[2]))
    virt.add(Claim(f"Zp{l}", rho, zp))
    _limb_claims_prove(ch, pub, w, reg, f"RZ{l}", rho, rz)
    A_part = A_in.contract((Tp, Bp, Din), Fr.eq_table(u_b))
    W_part = Wl.contract((Tp * Din, Dout, 1), Fr.eq_table(u_j))
    pt, (a, wv) = _stepwise_prove(ch, u_t, [A_part, W_part], Din, claim)
    p_t, p_k = _split(pt, Tp, Din)
    virt.add(Claim(a_name, p_t + u_b + p_k, a))
    virt.add(Claim(f"W{l}", p_t + p_k + u_j, wv))

    # backward (l ≥ 2): G_A[t,b,k] = Σ_j G_Z[t,b,j]·W[t,k,j] = 2^F·G'_A + R_GA
    if l >= 2:
        rho = t.challenge_frs(f"bwd{l}/point", log2(Tp) + log2(Bp) + log2(Din))
        u_t, u_b, u_k = _split(rho, Tp, Bp, Din)
        ga, rga = ch.values(f"bwd{l}/claims", [w.fr(f"GA{l - 1}").evaluate(rho), w.fr(f"RGA{l - 1}").evaluate(rho)])
        _limb_claims_prove(ch, pub, w, reg, f"GA{l - 1}", rho, ga)
        _limb_claims_prove(ch, pub, w, reg, f"RGA{l - 1}", rho, rga)
        G_part = GZ.contract((Tp, Bp, Dout), Fr.eq_table(u_b))
        W_part = Wl.contract((Tp, Din, Dout), Fr.eq_table(u_k))
        pt, (g, wv) = _stepwise_prove(ch, u_t, [G_part, W_part], Dout, (1 << F) * ga + rga)
        p_t, p_j = _split(pt, Tp, Dout)
        virt.add(Claim(f"GZ{l}", p_t + u_b + p_j, g))
        virt.add(Claim(f"W{l}", p_t + u_k + p_j, wv))

    # weight gradient: G_W[t,k,j] = Σ_b A[t,b,k]·G_Z[t,b,j] = 2^(F+s)·ΔW + R_ΔW
    rho = t.challenge_frs(f"wgrad{l}/point", log2(Tp) + log2(Din) + log2(Dout))
    u_t, u_k, u_j = _split(rho, Tp, Din, Dout)
    dw, rdw = ch.values(f"wgrad{l}/claims", [w.fr(f"DW{l}").evaluate(rho), w.fr(f"RDW{l}").evaluate(rho)])
    _limb_claims_prove(ch, pub, w, reg, f"DW{l}", rho, dw)
    _limb_claims_prove(ch, pub, w, reg, f"RDW{l}", rho, rdw)
    A_part = A_in.contract((Tp * Bp, Din, 1), Fr.eq_table(u_k))
    G_part = GZ.contract((Tp * Bp, Dout, 1), Fr.eq_table(u_j))
    pt, (a, g) = _stepwise_prove(ch, u_t, [A_part, G_part], Bp, (1 << (F + s)) * dw + rdw)
    p_t, p_b = _split(pt, Tp, Bp)
    virt.add(Claim(a_name, p_t + p_b + u_k, a))
    virt.add(Claim(f"GZ{l}", p_t + p_b + u_j, g))

    # bias gradient: G_b[t,j] = Σ_b G_Z[t,b,j] = 2^s·Δb + R_Δb
    if bias:
        rho = t.challenge_frs(f"bgrad{l}/point", log2(Tp) + log2(Dout))
        u_t, u_j = _split(rho, Tp, Dout)
        db, rdb = ch.values(f"bgrad{l}/claims", [w.fr(f"DB{l}").evaluate(rho), w.fr(f"RDB{l}").evaluate(rho)])
        _limb_claims_prove(ch, pub, w, reg, f"DB{l}", rho, db)
        _limb_claims_prove(ch, pub, w, reg, f"RDB{l}", rho, rdb)
        G_part = GZ.contract((Tp * Bp, Dout, 1), Fr.eq_table(u_j))
        pt, (g,) = _stepwise_prove(ch, u_t, [G_part], Bp, (1 << s) * db + rdb)
        p_t, p_b = _split(pt, Tp, Bp)
        virt.add(Claim(f"GZ{l}", p_t + p_b + u_j, g))


def _relations_verify(ch, pub: Public, reg: ClaimRegistry, l: int, virt):
    st, sh = pub.st, pub.sh
    F, s = st.params["frac_bits"], st.params["lr_shift"]
    Tp, Bp, Din, Dout = sh.steps, sh.batch, sh.widths[l - 1], sh.widths[l]
    t = ch.transcript
    a_name = "A0" if l == 1 else f"A{l - 1}"
    bias = st.has_bias[l - 1]

    rho = t.challenge_frs(f"fwd{l}/point", log2(Tp) + log2(Bp) + log2(Dout))
    u_t, u_b, u_j = _split(rho, Tp, Bp, Dout)
    vals = ch.values(f"fwd{l}/claims", 3 if bias else 2)
    zp, rz = vals[0], vals[1]
    claim = (1 << F) * zp + rz
    if bias:
        claim = claim - (1 << F) * _lt_mle(st.batch_size, Bp, u_b) * vals[2]
        virt.add(Claim(f"b{l}", u_t + u_j, vals[2]))
    virt.add(Claim(f"Zp{l}", rho, zp))
    _limb_claims_verify(ch, pub, reg, f"RZ{l}", rho, rz)
    pt, (a, wv) = _stepwise_verify(ch, u_t, 2, Din, claim, f"forward matmul of layer {l}")
    p_t, p_k = _split(pt, Tp, Din)
    virt.add(Claim(a_name, p_t + u_b + p_k, a))
    virt.add(Claim(f"W{l}", p_t + p_k + u_j, wv))

    if l >= 2:
        rho = t.challenge_frs(f"bwd{l}/point", log2(Tp) + log2(Bp) + log2(Din))
        u_t, u_b, u_k = _split(rho, Tp, Bp, Din)
        ga, rga = ch.values(f"bwd{l}/claims", 2)
        _limb_claims_verify(ch, pub, reg, f"GA{l - 1}", rho, ga)
        _limb_claims_verify(ch, pub, reg, f"RGA{l - 1}", rho, rga)
        pt, (g, wv) = _stepwise_verify(ch, u_t, 2, Dout, (1 << F) * ga + rga, f"backward matmul of layer {l}")
        p_t, p_j = _split(pt, Tp, Dout)
        virt.add(Claim(f"GZ{l}", p_t + u_b + p_j, g))
        virt.add(Claim(f"W{l}", p_t + u_k + p_j, wv))

    rho = t.challenge_frs(f"wgrad{l}/point", log2(Tp) + log2(Din) + log2(Dout))
    u_t, u_k, u_j = _split(rho, Tp, Din, Dout)
    dw, rdw = ch.values(f"wgrad{l}/claims", 2)
    _limb_claims_verify(ch, pub, reg, f"DW{l}", rho, dw)
    _limb_claims_verify(ch, pub, reg, f"RDW{l}", rho, rdw)
    pt, (a, g) = _stepwise_verify(ch, u_t, 2, Bp, (1 << (F + s)) * dw + rdw, f"weight gradient of layer {l}")
    p_t, p_b = _split(pt, Tp, Bp)
    virt.add(Claim(a_name, p_t + p_b + u_k, a))
    virt.add(Claim(f"GZ{l}", p_t + p_b + u_j, g))

    if bias:
        rho = t.challenge_frs(f"bgrad{l}/point", log2(Tp) + log2(Dout))
        u_t, u_j = _split(rho, Tp, Dout)
        db, rdb = ch.values(f"bgrad{l}/claims", 2)
        _limb_claims_verify(ch, pub, reg, f"DB{l}", rho, db)
        _limb_claims_verify(ch, pub, reg, f"RDB{l}", rho, rdb)
        pt, (g,) = _stepwise_verify(ch, u_t, 1, Bp, (1 << s) * db + rdb, f"bias gradient of layer {l}")
        p_t, p_b = _split(pt, Tp, Bp)
        virt.add(Claim(f"GZ{l}", p_t + p_b + u_j, g))


# =========================================================================================================
# ranges the reference checks outside the step's intermediates: the whole dataset, initial, per-step and final
# weights and biases equal their limbs in L
# =========================================================================================================
def _input_ranges(pub: Public) -> list[tuple[str, str, tuple[int, ...], bool]]:
    """(tensor, limbed name, shape, tensor is virtual) for every tensor range-checked by equality with limbs:
    the dataset ``X``, ``Y`` (all rows, as ``train_quantized`` checks), and per layer the initial, per-step
    (``W_t`` for every padded step t; the step-masked ``[t < T]·b_t``) and final weights and biases."""
    sh = pub.sh
    out = [("X", "XS", (sh.rows, sh.widths[0]), False), ("Y", "YS", (sh.rows, sh.widths[-1]), False)]
    for l in range(1, pub.L + 1):
        out.append((f"W0.{l}", f"IW{l}", sh.weight(l)[1:], False))
        out.append((f"W{l}", f"SW{l}", sh.weight(l), True))
        out.append((f"WT.{l}", f"FW{l}", sh.weight(l)[1:], False))
        if pub.st.has_bias[l - 1]:
            out.append((f"b0.{l}", f"IB{l}", sh.bias(l)[1:], False))
            out.append((f"b{l}", f"SB{l}", sh.bias(l), True))
            out.append((f"bT.{l}", f"FB{l}", sh.bias(l)[1:], False))
    return out


def _input_ranges_prove(ch, pub, w, reg, virt):
    for tensor, limbed, shape, is_virtual in _input_ranges(pub):
        rho = ch.transcript.challenge_frs(f"inrange/{limbed}", pub.nv(shape))
        (v,) = ch.values(f"inrange/{limbed}", [w.fr(tensor).evaluate(rho)])
        (virt if is_virtual else reg).add(Claim(tensor, rho, v))
        _limb_claims_prove(ch, pub, w, reg, limbed, rho, v)


def _input_ranges_verify(ch, pub, reg, virt):
    for tensor, limbed, shape, is_virtual in _input_ranges(pub):
        rho = ch.transcript.challenge_frs(f"inrange/{limbed}", pub.nv(shape))
        (v,) = ch.values(f"inrange/{limbed}", 1)
        (virt if is_virtual else reg).add(Claim(tensor, rho, v))
        _limb_claims_verify(ch, pub, reg, limbed, rho, v)


# =========================================================================================================
# virtual tensors → committed tensors
# =========================================================================================================
def _alphas(transcript, claims: Sequence[Claim], label: str) -> list[int]:
    """Random coefficients for a batch of claims. Their points are challenges and their values are stated or
    derived from stated values, all in the transcript already; the count and points are absorbed again."""
    if not claims:
        return []
    transcript.absorb_shape(f"{label}/count", (len(claims),))
    for c in claims:
        transcript.absorb_frs(f"{label}/point", list(c.point))
    return transcript.challenge_frs(f"{label}/alpha", len(claims))


def _combine(alphas, claims):
    acc = 0
    for a, c in zip(alphas, claims):
        acc = acc + a * c.value
    return acc


def _eq_combo_table(claims, alphas, size) -> Fr:
    acc = Fr.zeros(size)
    for a, c in zip(alphas, claims):
        acc = Fr.eq_table(list(c.point), scale=a) + acc
    return acc


def _eq_combo_mle(claims, alphas) -> Callable[[Sequence[int]], int]:
    return lambda p: sum(a * sc.eq_eval(c.point, p) for a, c in zip(alphas, claims)) % R


# ReLU layer l (hidden): A = (1−S)⊙M, Z' = (1−2S)⊙M − S, G_Z = (1−S)⊙G'_A; tables E_A, E_Z, E_G, S, M, G'
_RELU_REL = sc.Relation(6, (
    (1, (0, 4)), (R - 1, (0, 3, 4)),
    (1, (1, 4)), (R - 2, (1, 3, 4)), (R - 1, (1, 3)),
    (1, (2, 5)), (R - 1, (2, 3, 5)),
))


def _relu_prove(ch, pub, w, reg, virt: ClaimRegistry, l: int):
    groups = [virt.pop(f"A{l}"), virt.pop(f"Zp{l}"), virt.pop(f"GZ{l}")]
    flat = [c for g in groups for c in g]
    alphas = _alphas(ch.transcript, flat, f"relu{l}")
    size = int(np.prod(pub.sh.act(l)))
    tabs, i = [], 0
    for g in groups:
        tabs.append(_eq_combo_table(g, alphas[i : i + len(g)], size))
        i += len(g)
    point, vals = ch.sumcheck(tabs + [w.fr(f"S{l}"), w.fr(f"M{l}"), w.fr(f"GA{l}")], _RELU_REL,
                              _combine(alphas, flat), n_public=3)
    for name, v in zip((f"S{l}", f"M{l}", f"GA{l}"), vals[3:]):
        _limb_claims_prove(ch, pub, w, reg, name, point, v)


def _relu_verify(ch, pub, reg, virt: ClaimRegistry, l: int):
    groups = [virt.pop(f"A{l}"), virt.pop(f"Zp{l}"), virt.pop(f"GZ{l}")]
    flat = [c for g in groups for c in g]
    alphas = _alphas(ch.transcript, flat, f"relu{l}")
    mles, i = [], 0
    for g in groups:
        mles.append(_eq_combo_mle(g, alphas[i : i + len(g)]))
        i += len(g)
    point, vals = ch.sumcheck(pub.nv(pub.sh.act(l)), _RELU_REL, _combine(alphas, flat), public=mles,
                              what=f"ReLU of layer {l}")
    for name, v in zip((f"S{l}", f"M{l}", f"GA{l}"), vals[3:]):
        _limb_claims_verify(ch, pub, reg, name, point, v)


def _output_prove(ch, pub, w, reg, virt: ClaimRegistry):
    """Z'_L = O; G_Z_L = O − Y_sched, range-checked as GO: claims on Z'_L and G_Z_L become claims on O, GO and
    Y_sched."""
    L = pub.L
    for c in virt.pop(f"Zp{L}"):
        _limb_claims_prove(ch, pub, w, reg, "O", c.point, c.value)
    for c in virt.pop(f"GZ{L}"):
        (y,) = ch.values("output/label", [w.fr("Ysched").evaluate(list(c.point))])
        virt.add(Claim("Ysched", c.point, y))
        _limb_claims_prove(ch, pub, w, reg, "GO", c.point, c.value)
        _limb_claims_prove(ch, pub, w, reg, "O", c.point, c.value + y)


def _output_verify(ch, pub, reg, virt: ClaimRegistry):
    L = pub.L
    for c in virt.pop(f"Zp{L}"):
        _limb_claims_verify(ch, pub, reg, "O", c.point, c.value)
    for c in virt.pop(f"GZ{L}"):
        (y,) = ch.values("output/label", 1)
        virt.add(Claim("Ysched", c.point, y))
        _limb_claims_verify(ch, pub, reg, "GO", c.point, c.value)
        _limb_claims_verify(ch, pub, reg, "O", c.point, c.value + y)


def _schedule_parts(pub, claims, alphas, D):
    sh = pub.sh
    parts = []
    for a, c in zip(alphas, claims):
        pt_t, pt_b, pt_k = _split(c.point, sh.steps, sh.batch, D)
        parts.append((a, Fr.from_ints(_selection(pub, pt_t, pt_b)), pt_k))
    return parts


def _schedule_prove(ch, pub, w, reg, virt, virt_name: str, data_name: str, width_index: int):
    """Claims on the scheduled batches (A0 = X_t or Y_t stacked) become one claim on the dataset tensor."""
    claims = virt.pop(virt_name)
    if not claims:
        return
    D = pub.sh.widths[width_index]
    alphas = _alphas(ch.transcript, claims, f"sched/{data_name}")
    P = Fr.zeros(pub.sh.rows * D)
    for a, sel, pt_k in _schedule_parts(pub, claims, alphas, D):
        P = Fr.outer(sel, Fr.eq_table(pt_k)).axpy(a, P)
    point, vals = ch.sumcheck([P, w.fr(data_name)], sc.Relation.product(2), _combine(alphas, claims), n_public=1)
    reg.add(Claim(data_name, point, vals[1]))


def _schedule_verify(ch, pub, reg, virt, virt_name: str, data_name: str, width_index: int):
    claims = virt.pop(virt_name)
    if not claims:
        return
    sh = pub.sh
    D = sh.widths[width_index]
    alphas = _alphas(ch.transcript, claims, f"sched/{data_name}")
    parts = _schedule_parts(pub, claims, alphas, D)

    def P_mle(p):
        p_i, p_k = _split(p, sh.rows, D)
        return sum(a * sel.evaluate(p_i) * sc.eq_eval(pt_k, p_k) for a, sel, pt_k in parts) % R

    point, vals = ch.sumcheck(log2(sh.rows) + log2(D), sc.Relation.product(2), _combine(alphas, claims),
                              public=[P_mle], what=f"batch schedule of {data_name}")
    reg.add(Claim(data_name, point, vals[1]))


def _history_setup(pub, l, kind):
    sh = pub.sh
    inner = sh.weight(l)[1:] if kind == "W" else sh.bias(l)[1:]
    limit = sh.steps if kind == "W" else pub.st.steps
    return sh, inner, sum(log2(d) for d in inner), f"D{kind.upper()}{l}", limit, log2(sh.steps)


def _history_claims(pub, reg, l, kind, claims, rho, w0_vals, wT, tau, limit):
    """Register the claims on W0 and WT; return the sums Σ_{t'} c[t']·ΔW(t', p) = [t<limit]~(p_t)·W0(p) − W_t(p)."""
    reg.add(Claim(f"{kind}T.{l}", rho, wT))
    for c, v in zip(claims, w0_vals):
        reg.add(Claim(f"{kind}0.{l}", c.point[tau:], v))
    reg.add(Claim(f"{kind}0.{l}", rho, w0_vals[-1]))
    sums = [_lt_mle(limit, pub.sh.steps, c.point[:tau]) * v - c.value for c, v in zip(claims, w0_vals)]
    return sums + [w0_vals[-1] - wT]


def _history_masks(pub, claims, rho, alphas, tau, limit):
    sh = pub.sh
    out = [(a, Fr.from_ints(_prefix_mask(c.point[:tau], sh.steps, limit)), list(c.point[tau:]))
           for a, c in zip(alphas, claims)]
    out.append((alphas[-1], Fr.from_ints(_lt_vec(pub.st.steps, sh.steps)), list(rho)))
    return out


def _history_prove(ch, pub, w, reg, virt, l: int, kind: str):
    """Per-step weights W_t = W_0 − Σ_{t'<t} ΔW_{t'} (kind 'W') or step-masked biases (kind 'b'), and the final
    tensor W_T = W_0 − Σ_t ΔW_t: claims on them become claims on W0, WT and the stacked ΔW."""
    sh, inner, nv_in, delta, limit, tau = _history_setup(pub, l, kind)
    claims = virt.pop(f"{kind}{l}")
    t = ch.transcript
    rho = t.challenge_frs(f"hist/{kind}{l}/final", nv_in)
    W0, WT = w.fr(f"{kind}0.{l}"), w.fr(f"{kind}T.{l}")
    w0_vals = ch.values(f"hist/{kind}{l}/initial", [W0.evaluate(list(c.point[tau:])) for c in claims]
                        + [W0.evaluate(rho)])
    (wT,) = ch.values(f"hist/{kind}{l}/finalvalue", [WT.evaluate(rho)])
    sums = _history_claims(pub, reg, l, kind, claims, rho, w0_vals, wT, tau, limit)
    alphas = t.challenge_frs(f"hist/{kind}{l}/alpha", len(sums))
    P = Fr.zeros(sh.steps * int(np.prod(inner)))
    for a, mask, pw in _history_masks(pub, claims, rho, alphas, tau, limit):
        P = Fr.outer(mask, Fr.eq_table(pw)).axpy(a, P)
    point, vals = ch.sumcheck([P, w.fr(delta)], sc.Relation.product(2), _combine_values(alphas, sums), n_public=1)
    _limb_claims_prove(ch, pub, w, reg, delta, point, vals[1])


def _history_verify(ch, pub, reg, virt, l: int, kind: str):
    sh, inner, nv_in, delta, limit, tau = _history_setup(pub, l, kind)
    claims = virt.pop(f"{kind}{l}")
    t = ch.transcript
    rho = t.challenge_frs(f"hist/{kind}{l}/final", nv_in)
    w0_vals = ch.values(f"hist/{kind}{l}/initial", len(claims) + 1)
    (wT,) = ch.values(f"hist/{kind}{l}/finalvalue", 1)
    sums = _history_claims(pub, reg, l, kind, claims, rho, w0_vals, wT, tau, limit)
    alphas = t.challenge_frs(f"hist/{kind}{l}/alpha", len(sums))
    masks = _history_masks(pub, claims, rho, alphas, tau, limit)

    def P_mle(p):
        p_t, p_w = list(p[:tau]), list(p[tau:])
        return sum(a * m.evaluate(p_t) * sc.eq_eval(pw, p_w) for a, m, pw in masks) % R

    point, vals = ch.sumcheck(tau + nv_in, sc.Relation.product(2), _combine_values(alphas, sums), public=[P_mle],
                              what=f"update history of layer {l}")
    _limb_claims_verify(ch, pub, reg, delta, point, vals[1])


def _combine_values(alphas, values):
    acc = 0
    for a, v in zip(alphas, values):
        acc = acc + a * v
    return acc


def _padding_tables(pub: Public) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """Statement tensors whose zero padding must be proven: (name, padded shape, true shape).

    Rows of the dataset beyond n are never scheduled, so only its columns are checked."""
    sh, st = pub.sh, pub.st
    out = [("X", (sh.rows, sh.widths[0]), (sh.rows, st.widths[0])),
           ("Y", (sh.rows, sh.widths[-1]), (sh.rows, st.widths[-1]))]
    for l in range(1, pub.L + 1):
        out.append((f"W0.{l}", sh.weight(l)[1:], (st.widths[l - 1], st.widths[l])))
        if st.has_bias[l - 1]:
            out.append((f"b0.{l}", sh.bias(l)[1:], (st.widths[l],)))
    return [o for o in out if o[1] != o[2]]


def _pad_indicator(padded, true) -> list[int]:
    inside = np.ones(1, dtype=np.int64)
    for P, n in zip(padded, true):
        inside = np.outer(inside, np.array(_lt_vec(n, P), dtype=np.int64)).reshape(-1)
    return (1 - inside).tolist()


def _pad_mle(padded, true, p) -> int:
    inside, i = 1, 0
    for P, n in zip(padded, true):
        k = log2(P)
        inside = inside * _lt_mle(n, P, p[i : i + k]) % R
        i += k
    return (1 - inside) % R


def _padding_prove(ch, pub, w, reg):
    for name, padded, true in _padding_tables(pub):
        rho = ch.transcript.challenge_frs(f"pad/{name}", sum(log2(d) for d in padded))
        tabs = [Fr.eq_table(rho), Fr.from_ints(_pad_indicator(padded, true)), w.fr(name)]
        point, vals = ch.sumcheck(tabs, sc.Relation.product(3), 0, n_public=2)
        reg.add(Claim(name, point, vals[2]))


def _padding_verify(ch, pub, reg):
    for name, padded, true in _padding_tables(pub):
        nv = sum(log2(d) for d in padded)
        rho = ch.transcript.challenge_frs(f"pad/{name}", nv)
        public = [lambda p, rho=rho: sc.eq_eval(rho, p), lambda p, a=padded, b=true: _pad_mle(a, b, p)]
        point, vals = ch.sumcheck(nv, sc.Relation.product(3), 0, public=public, what=f"zero padding of {name}")
        reg.add(Claim(name, point, vals[2]))


# =========================================================================================================
# the whole proof
# =========================================================================================================
@dataclass
class ProverArtifacts:
    """What the prover keeps: the statement, the openings of every commitment, and timings."""

    statement: Statement
    openings: dict[str, Opening]
    timings: dict[str, float] = field(default_factory=dict)


def _committed_order(pub: Public, backend) -> list[str]:
    names = list(backend.committed_log_sizes(pub.layout)) + ["X", "Y"]
    for l in range(1, pub.L + 1):
        names += [f"W0.{l}", f"WT.{l}"]
        if pub.st.has_bias[l - 1]:
            names += [f"b0.{l}", f"bT.{l}"]
    return names


def _check_parameters(st: Statement) -> None:
    """The statement's fixed-point parameters must be valid and must not allow any relation to wrap mod r
    (``soundness.md`` §2): otherwise a verified proof would not imply the integer training step."""
    try:
        fp = FixedPointParams(**st.params)
        fp.check_no_wrap(st.widths, st.batch_size, st.steps)
    except (ZkdlError, TypeError) as exc:
        raise StatementMismatch(f"unusable fixed-point parameters in the statement: {exc}") from exc
    if fp.to_dict() != {k: int(v) for k, v in st.params.items()}:
        raise StatementMismatch("the statement's fixed-point parameters are not in canonical form")


MODE_ZK = b"zero-knowledge"
MODE_TRANSPARENT = b"transparent"


def _new_transcript(st: Statement, *, zk: bool, format_version: int) -> Transcript:
    """The transcript before any challenge: the container format version, the proof mode (so a proof made in one
    mode never replays in the other, whatever the header flag says) and the statement."""
    t = Transcript(PROTOCOL_ID, version=1)
    t.absorb_u64("container/format-version", format_version)
    t.absorb_bytes("mode", MODE_ZK if zk else MODE_TRANSPARENT)
    t.absorb_bytes("statement", st.canonical_bytes())
    return t


def commit_statement_tensors(params: PublicParams, w: Witness, rng=None) -> tuple[dict, dict]:
    coms, opens = {}, {}
    for name in w.pub.st.expected_tables():
        coms[name], opens[name] = commit_int(params, w.ints[name].reshape(-1), rng=rng)
    return coms, opens


def prove(
    params: PublicParams,
    statement: Statement,
    run: TrainingRun,
    X: np.ndarray,
    Y: np.ndarray,
    statement_openings: dict[str, Opening],
    *,
    rng=None,
    progress: Callable[[str], None] | None = None,
    tamper: Callable[[Witness], None] | None = None,
    zk: bool = True,
) -> tuple[bytes, dict[str, float]]:
    """Prove that ``run`` (whose initial/final weights and data open the statement's commitments) is T steps of
    the quantized SGD. Returns the proof bytes and the prover's time per phase.

    ``tamper`` is for soundness tests only: it may change the witness (``w.ints``, then ``w.refresh()``) before
    anything is committed, turning this into a cheating prover that otherwise follows the protocol."""
    say = progress or (lambda msg: None)
    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        times[name] = times.get(name, 0.0) + now - clock
        clock = now

    pub = Public.of(statement)
    w = Witness(pub, run, X, Y)
    if tamper is not None:
        tamper(w)
    backend = make_range_backend(statement.range_backend)
    t = _new_transcript(statement, zk=zk, format_version=FORMAT_VERSION)
    ch = ZkProverChannel(t, params, rng) if zk else ProverChannel(t)
    ch.writers["HEAD"].write_raw(statement.digest())
    lap("witness")

    say("committing the range tensor")
    tables = backend.committed_tables(pub.layout, w.L_values, strict=tamper is None)
    openings: dict[str, tuple[Commitment, Opening]] = {}
    for name, arr in tables.items():
        com, op = commit(params, arr, rng=rng)  # bool tables by subset sums, integers by short scalars
        ch.commitment(f"commit/{name}", com)
        openings[name] = (com, op)
        w.ints[name] = arr.astype(np.int64)
    lap("commit")

    reg = ClaimRegistry()
    virt = ClaimRegistry()
    say("range checks")
    reg.extend(backend.prove(pub.layout, w.L_values, ch, tables=tables))
    lap("range")
    say("layer relations")
    for l in range(1, pub.L + 1):
        _relations_prove(ch, pub, w, reg, l, virt)
    _input_ranges_prove(ch, pub, w, reg, virt)
    for l in range(pub.L - 1, 0, -1):
        _relu_prove(ch, pub, w, reg, virt, l)
    _output_prove(ch, pub, w, reg, virt)
    _schedule_prove(ch, pub, w, reg, virt, "A0", "X", 0)
    _schedule_prove(ch, pub, w, reg, virt, "Ysched", "Y", -1)
    for l in range(1, pub.L + 1):
        _history_prove(ch, pub, w, reg, virt, l, "W")
        if statement.has_bias[l - 1]:
            _history_prove(ch, pub, w, reg, virt, l, "b")
    _padding_prove(ch, pub, w, reg)
    assert not virt.names(), f"unreduced virtual claims: {virt.names()}"
    lap("sumchecks")

    say("openings")
    l_claims = reg.pop("L")
    reg.extend(backend.prove_translate(pub.layout, l_claims, ch, L_values=w.L_values, tables=tables))
    for name in _committed_order(pub, backend):
        claims = reg.pop(name)
        if not claims:
            raise AssertionError(f"no claim on committed tensor {name}")
        com, op = openings[name] if name in openings else (statement.commitments[name], statement_openings[name])
        table = w.fr(name)
        claim = prove_reduction(table, claims, ch)
        ch.open(params, com, op, table, claim)
    if zk:
        ch.finish()
    lap("openings")
    cw = ContainerWriter(PROTOCOL_ID, flags=0 if zk else FLAG_TRANSPARENT)
    for sec in SECTIONS:
        cw.add_section(sec, ch.writers[sec])
    return cw.to_bytes(), times


def verify(params: PublicParams, statement: Statement, proof: bytes, *,
           channel_factory: Callable | None = None) -> dict[str, float]:
    """Verify a training proof against a statement. Raises ``ProofFormatError`` (malformed proof),
    ``StatementMismatch`` (made for another statement) or ``VerificationError`` (a failed check).

    ``channel_factory`` (tests and the simulator of ``simulator.py`` only) replaces ``ZkVerifierChannel`` for a
    zero-knowledge proof: called as ``channel_factory(transcript, readers, params)``."""
    t0 = time.perf_counter()
    statement.check_commitments()
    _check_parameters(statement)
    generators_needed(statement)
    if statement.generators_digest != params.digest.hex():
        raise StatementMismatch("the statement was made with other public parameters (generator digest differs)")
    cr = ContainerReader(proof, protocol_id=PROTOCOL_ID, layout=SECTIONS)
    zk = not cr.transparent
    readers = {s: cr.section(s) for s in SECTIONS}
    if readers["HEAD"].read_raw(32) != statement.digest():
        raise StatementMismatch("the proof was made for a different statement")
    pub = Public.of(statement)
    backend = make_range_backend(statement.range_backend)
    t = _new_transcript(statement, zk=zk, format_version=cr.format_version)
    ch = (channel_factory or ZkVerifierChannel)(t, readers, params) if zk else VerifierChannel(t, readers)
    coms: dict[str, Commitment] = dict(statement.commitments)
    for name, log_size in backend.committed_log_sizes(pub.layout).items():
        com = ch.commitment(f"commit/{name}")
        if com.layout != Layout.for_length(1 << log_size):
            raise ProofFormatError(f"commitment to {name} is laid out as {com.layout}; the statement permits only "
                                   f"the canonical layout of 2^{log_size} entries, {Layout.for_length(1 << log_size)}")
        coms[name] = com

    reg = ClaimRegistry()
    virt = ClaimRegistry()
    reg.extend(backend.verify(pub.layout, ch))
    for l in range(1, pub.L + 1):
        _relations_verify(ch, pub, reg, l, virt)
    _input_ranges_verify(ch, pub, reg, virt)
    for l in range(pub.L - 1, 0, -1):
        _relu_verify(ch, pub, reg, virt, l)
    _output_verify(ch, pub, reg, virt)
    _schedule_verify(ch, pub, reg, virt, "A0", "X", 0)
    _schedule_verify(ch, pub, reg, virt, "Ysched", "Y", -1)
    for l in range(1, pub.L + 1):
        _history_verify(ch, pub, reg, virt, l, "W")
        if statement.has_bias[l - 1]:
            _history_verify(ch, pub, reg, virt, l, "b")
    _padding_verify(ch, pub, reg)
    if virt.names():
        raise VerificationError(f"internal: unreduced virtual claims {virt.names()}")

    l_claims = reg.pop("L")
    reg.extend(backend.verify_translate(pub.layout, l_claims, ch))
    for name in _committed_order(pub, backend):
        claims = reg.pop(name)
        if not claims:
            raise VerificationError(f"internal: no claim on committed tensor {name}")
        com = coms[name]
        if any(len(c.point) != com.layout.num_vars for c in claims):
            raise VerificationError(f"claim on {name} at a point of the wrong length")
        claim = verify_reduction(claims, ch)
        ch.open(params, com, claim, what=f"opening of {name}")
    if zk:
        ch.finish()
    cr.finish()
    return {"verify": time.perf_counter() - t0}
