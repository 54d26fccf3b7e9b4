"""What both sides of an evaluation or inference proof derive (:class:`EvalPublic`) and the prover's tables
(:class:`EvalWitness`).

The forward pass of the committed final model on ``n`` public input rows, padded to ``N' = 2^⌈log n⌉`` rows
(the batch axis; there is no step axis). Padded rows are zero inputs and get no bias (``[i < n]``, as padded
batch entries in training), so every tensor is zero there. Range-checked tensors (limbs in the range tensor L,
the training proof's mechanism, ``shapes.LimbSpec``):

* per layer ``RZ{l}`` (the rescaling remainder), hidden layers ``S{l}`` (sign bits) and ``M{l}`` (ReLU magnitude);
* evaluation: ``O`` (the output, signed ``act_bits``), ``P`` (the one-hot predicted class, 1 bit) and ``D`` (the
  argmax differences, unsigned ``act_bits + 1``: see ``relations/argmax.py``);
* ``FW{l}``, ``FB{l}``: the final weights and biases (the training proof checks them too; checking them again
  keeps an evaluation proof sound on its own).

Inference has public outputs, so ``O``, ``P`` and ``D`` are not in its range tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import QuantizationOverflow, StatementMismatch, ZkdlError
from ..field import Fr
from ..gadgets.range_check import RangeLayout
from ..quant.fixedpoint import check_range, rescale
from ..quant.train import exact_add, exact_matmul
from .evaluation_statement import EvalStatement, array_sha256
from .shapes import LimbSpec, Shapes, log2, pad_to, remainder_spec, signed_spec, unsigned_spec
from .statement import Statement


def eval_limb_specs(params: dict, num_layers: int, has_bias, kind: str) -> dict[str, LimbSpec]:
    F, Q = params["frac_bits"], params["act_bits"]
    specs: list[LimbSpec] = []
    for l in range(1, num_layers + 1):
        specs.append(remainder_spec(f"RZ{l}", F))
        if l < num_layers:
            specs.append(unsigned_spec(f"S{l}", 1))
            specs.append(unsigned_spec(f"M{l}", Q))
    if kind == "evaluation":
        specs += [signed_spec("O", Q), unsigned_spec("P", 1), unsigned_spec("D", Q + 1)]
    for l in range(1, num_layers + 1):
        specs.append(signed_spec(f"FW{l}", params["weight_bits"]))
        if has_bias[l - 1]:
            specs.append(signed_spec(f"FB{l}", params["bias_bits"]))
    return {sp.name: sp for sp in specs}


def eval_tensor_shape(name: str, sh: Shapes) -> tuple[int, ...]:
    L = sh.num_layers
    if name in ("O", "P", "D"):
        return (sh.batch, sh.widths[L])
    kind = name.rstrip("0123456789")
    l = int(name[len(kind) :])
    if kind in ("RZ", "S", "M"):
        return (sh.batch, sh.widths[l])
    if kind == "FW":
        return (sh.widths[l - 1], sh.widths[l])
    if kind == "FB":
        return (sh.widths[l],)
    raise KeyError(name)


@dataclass
class EvalPublic:
    """Everything both sides derive from the two statements and the public data."""

    st: Statement  # the training statement (its final weight commitments)
    est: EvalStatement
    sh: Shapes  # batch = N' (padded rows), steps = 1
    specs: dict[str, LimbSpec]
    layout: RangeLayout
    X: np.ndarray  # padded public inputs (N' × d'_0), int64
    X_fr: Fr
    labels: np.ndarray | None  # evaluation: class labels of the n real rows
    outputs: np.ndarray | None  # inference: padded public outputs (N' × d'_L), int64
    split_blinds: dict | None = None  # test_data "training-split": the openings of the training statement's test split

    @classmethod
    def of(
        cls,
        st: Statement,
        est: EvalStatement,
        X: np.ndarray,
        *,
        labels: np.ndarray | None = None,
        outputs: np.ndarray | None = None,
        split_blinds: dict | None = None,
    ) -> EvalPublic:
        """Check the public data against the statements (hashes, shapes, declared ranges) and derive the layout.
        Raises ``StatementMismatch`` when they do not fit."""
        if est.training_statement != st.digest().hex():
            raise StatementMismatch(
                f"the evaluation is bound to training statement {est.training_statement}, not to the given one "
                f"({st.digest().hex()})"
            )
        if est.range_backend != st.range_backend or est.generators_digest != st.generators_digest:
            raise StatementMismatch("the evaluation statement's range back-end or generators differ from training's")
        n, d0, C = est.n_rows, st.widths[0], st.widths[-1]
        X = np.asarray(X)
        if X.dtype != np.int64 or X.shape != (n, d0):
            raise StatementMismatch(f"the public inputs must be int64 of shape ({n}, {d0}), got {X.dtype} {X.shape}")
        if array_sha256(X) != est.inputs_sha256:
            raise StatementMismatch("the public inputs do not match inputs_sha256 of the evaluation statement")
        fp = st.params
        try:
            check_range(X, fp.range_of("X"), tensor="X")
        except QuantizationOverflow as exc:
            raise StatementMismatch(f"the public inputs leave the declared input range: {exc}") from None
        sh = Shapes.of(st.widths, 1, n, 1)
        Xp = pad_to(X, (sh.batch, sh.widths[0]))
        out_p = None
        if est.kind == "evaluation":
            if C < 2:
                raise StatementMismatch("an evaluation counts correct classes: the model needs ≥ 2 outputs")
            labels = np.asarray(labels) if labels is not None else None
            if labels is None or labels.dtype != np.int64 or labels.shape != (n,):
                raise StatementMismatch(f"an evaluation needs int64 labels of shape ({n},)")
            if array_sha256(labels) != est.labels_sha256:
                raise StatementMismatch("the labels do not match labels_sha256 of the evaluation statement")
            if labels.min() < 0 or labels.max() >= C:
                raise StatementMismatch(f"labels must be classes in [0, {C})")
            if est.test_data == "training-split":
                if st.test_split is None or st.test_split["n_rows"] != n:
                    raise StatementMismatch("the training statement commits no test split of these rows")
                if split_blinds is None:
                    raise StatementMismatch("an evaluation on the training statement's test split needs its openings")
        else:
            outputs = np.asarray(outputs) if outputs is not None else None
            if outputs is None or outputs.dtype != np.int64 or outputs.shape != (n, C):
                raise StatementMismatch(f"an inference needs int64 outputs of shape ({n}, {C})")
            if array_sha256(outputs) != est.outputs_sha256:
                raise StatementMismatch("the outputs do not match outputs_sha256 of the evaluation statement")
            try:
                check_range(outputs, fp.range_of("O"), tensor="O")
            except QuantizationOverflow as exc:
                raise StatementMismatch(f"the public outputs leave the declared output range: {exc}") from None
            out_p = pad_to(outputs, (sh.batch, sh.widths[-1]))
        specs = eval_limb_specs(st.params.to_dict(), st.num_layers, st.has_bias, est.kind)
        segs = []
        for name, sp in specs.items():
            log_size = sum(log2(s) for s in eval_tensor_shape(name, sh))
            for seg, bits in zip(sp.segment_names(), sp.limb_bits):
                segs.append((seg, log_size, bits))
        return cls(
            st, est, sh, specs, RangeLayout(segs), Xp, Fr.from_int64(Xp.reshape(-1)), labels, out_p, split_blinds
        )

    @property
    def n_layers(self) -> int:
        return self.st.num_layers

    @property
    def n_rows(self) -> int:
        return self.est.n_rows

    def nv(self, shape) -> int:
        return self.sh.nvars(shape)

    def labels_one_hot(self) -> np.ndarray:
        """Y[i, j] = [labels_i = j] on the real rows, zero on padded rows (N' × d'_L)."""
        assert self.labels is not None
        Y = np.zeros((self.sh.batch, self.sh.widths[-1]), dtype=np.int64)
        Y[np.arange(self.n_rows), self.labels] = 1
        return Y


def forward_int(pub: EvalPublic, weights, biases) -> dict[str, np.ndarray]:
    """The integer forward pass on the padded inputs, as the reference (``predict_int``) computes it, with every
    intermediate the proof needs. Raises ``QuantizationOverflow`` when a value leaves its declared range."""
    st, sh = pub.st, pub.sh
    fp = st.params
    R, F, L = fp.ranges, fp.frac_bits, st.num_layers
    rowmask = (np.arange(sh.batch) < pub.n_rows).astype(np.int64)[:, None]
    out: dict[str, np.ndarray] = {"X": pub.X}
    A = pub.X
    for l in range(1, L + 1):
        W = pad_to(np.asarray(weights[l - 1], dtype=np.int64), (sh.widths[l - 1], sh.widths[l]))
        check_range(W, R["W"], tensor="W", layer=l)
        out[f"WT.{l}"] = W
        Z = exact_matmul(A, W, tensor="Z", layer=l)
        if st.has_bias[l - 1]:
            b = pad_to(np.asarray(biases[l - 1], dtype=np.int64), (sh.widths[l],))
            check_range(b, R["b"], tensor="b", layer=l)
            out[f"bT.{l}"] = b
            Z = exact_add(Z, rowmask * (b << F)[None, :], tensor="Z", layer=l)
        check_range(Z, R["Z"], tensor="Z", layer=l)
        Zr, Zrem = rescale(Z, F)
        check_range(Zr, R["Z_rescaled"], tensor="Z_rescaled", layer=l)
        out[f"Zp{l}"], out[f"RZ{l}"] = Zr, Zrem
        if l < L:
            S = (Zr < 0).astype(np.int64)
            out[f"S{l}"], out[f"M{l}"] = S, (1 - 2 * S) * Zr - S
            A = out[f"A{l}"] = (1 - S) * Zr
    return out


def argmax_tables(O: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The one-hot predicted class ``P`` (first maximal output among the ``n_classes`` real columns, numpy's
    argmax rule) and the differences ``D[i,j] = [j < C]·(max_i − O[i,j] − [j < argmax_i])``."""
    Np, Dp = O.shape
    cls = np.argmax(O[:, :n_classes], axis=1)
    P = np.zeros_like(O)
    P[np.arange(Np), cls] = 1
    m = O[np.arange(Np), cls]
    j = np.arange(Dp)[None, :]
    D = (j < n_classes) * (m[:, None] - O - (j < cls[:, None]))
    return P, D.astype(np.int64)


class EvalWitness:
    """The prover's int64 tables (padded) and their field versions."""

    def __init__(self, pub: EvalPublic, weights, biases):
        self.pub = pub
        L = pub.n_layers
        if len(weights) != L or len(biases) != L:
            raise ZkdlError(f"the model has {len(weights)} layers, the training statement {L}")
        self.ints = forward_int(pub, weights, biases)
        O = self.ints[f"Zp{L}"]
        if pub.est.kind == "evaluation":
            self.ints["O"] = O
            self.ints["P"], self.ints["D"] = argmax_tables(O, pub.st.widths[-1])
        for l in range(1, L + 1):
            self.ints[f"FW{l}"] = self.ints[f"WT.{l}"]
            if pub.st.has_bias[l - 1]:
                self.ints[f"FB{l}"] = self.ints[f"bT.{l}"]
        self.refresh()

    def refresh(self, *, check: bool = True) -> None:
        """Recompute the field tables and the range tensor from ``ints`` (``check=False``: a cheating prover may
        put out-of-range limbs into it)."""
        self._fr: dict[str, Fr] = {}
        limbs = {}
        for name, sp in self.pub.specs.items():
            for seg, arr in zip(sp.segment_names(), sp.limbs(self.ints[name], check=check)):
                limbs[seg] = arr
        self.range_values = self.pub.layout.assemble(limbs)

    def range_tensor(self) -> Fr:
        if "__L__" not in self._fr:
            self._fr["__L__"] = Fr.from_int64(self.range_values)
        return self._fr["__L__"]

    def segment_fr(self, segment: str) -> Fr:
        """One limb segment of the (single) range tensor as field elements (cached with the other tables)."""
        key = f"segment:{segment}"
        if key not in self._fr:
            self._fr[key] = Fr.from_int64(self.range_values[self.pub.layout.slice(segment)])
        return self._fr[key]

    def fr(self, name: str) -> Fr:
        if name == "L":
            return self.range_tensor()
        if name not in self._fr:
            self._fr[name] = Fr.from_int64(self.ints[name].reshape(-1))
        return self._fr[name]


def test_split_tables(widths, X: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The committed forms of a held-out split: inputs padded to pow2(n) × pow2(d_0), one-hot labels (0/1) padded
    to pow2(n) × pow2(d_L)."""
    n = X.shape[0]
    Np = 1 << max(0, (n - 1).bit_length())
    Dp = 1 << max(0, (int(widths[-1]) - 1).bit_length())
    Y = np.zeros((Np, Dp), dtype=np.int64)
    Y[np.arange(n), labels] = 1
    return {"X": pad_to(X, (Np, 1 << max(0, (int(widths[0]) - 1).bit_length()))), "Y": Y}


def commit_test_split(params, widths, X: np.ndarray, labels: np.ndarray, blinds: dict | None = None, rng=None):
    """Commit (or, with ``blinds``, recommit) a held-out split: ``({"n_rows", "X", "Y"}, {"X": Opening, ...})``."""
    from ..commit.pedersen import commit_int

    out: dict = {"n_rows": int(X.shape[0])}
    opens = {}
    for name, table in test_split_tables(widths, X, labels).items():
        out[name], opens[name] = commit_int(
            params, table.reshape(-1), rng=rng, blinds=None if blinds is None else blinds[name]
        )
    return out, opens


def check_test_split_opening(params, pub: EvalPublic) -> None:
    """The public test data opens the training statement's test split commitments (``StatementMismatch``
    otherwise)."""
    st = pub.st
    assert st.test_split is not None and pub.split_blinds is not None and pub.labels is not None
    X = pub.X[: pub.n_rows, : st.widths[0]]
    try:
        coms, _ = commit_test_split(params, st.widths, X, pub.labels, blinds=pub.split_blinds)
    except (ValueError, TypeError, KeyError) as exc:
        raise StatementMismatch(f"the openings of the test split are unusable: {exc}") from None
    for name in ("X", "Y"):
        if coms[name].to_bytes() != st.test_split[name].to_bytes():
            raise StatementMismatch(
                f"the test data is not the split committed in the training statement (its {name} does not open it)"
            )
