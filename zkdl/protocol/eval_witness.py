"""What both sides of an evaluation or inference proof derive (:class:`EvalPublic`) and the prover's tables
(:class:`EvalWitness`).

The forward pass of the committed final model on ``n`` public input rows, padded to ``N' = 2^⌈log n⌉`` rows
(the batch axis; there is no step axis). Padded rows are zero inputs and get no bias (``[i < n]``, as padded
batch entries in training), so every tensor is zero there. Range-checked tensors (limbs in the range tensor L,
the training proof's mechanism, ``shapes.LimbSpec``):

* per layer ``RZ{l}`` (the rescaling remainder), hidden layers ``S{l}`` (sign bits) and ``M{l}`` (ReLU magnitude);
* evaluation: ``O`` (the output, signed ``act_bits``); classification also ``P`` (the one-hot predicted class,
  1 bit) and ``D`` (the argmax differences, unsigned ``act_bits + 1``: see ``relations/argmax.py``);
* committed test data (``test_data`` "committed" / "training-split-committed"): ``XC`` on the committed inputs
  ``TX`` (the declared input range) and ``YC`` on the committed labels ``TY`` (one-hot: 1 bit; regression targets:
  the declared label range);
* ``FW{l}``, ``FB{l}``: the final weights and biases (the training proof checks them too; checking them again
  keeps an evaluation proof sound on its own).

Inference has public outputs, so ``O``, ``P`` and ``D`` are not in its range tensor; a regression evaluation has
no ``P``, ``D`` (``relations/sse.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..commit.pedersen import Commitment, Layout
from ..errors import QuantizationOverflow, StatementMismatch, ZkdlError
from ..field import Fr
from ..gadgets.range_check import RangeLayout
from ..quant.fixedpoint import check_range, rescale
from ..quant.train import exact_add, exact_matmul
from .evaluation_statement import EvalStatement, array_sha256
from .shapes import LimbSpec, Shapes, log2, pad_to, remainder_spec, signed_spec, unsigned_spec
from .statement import Statement


def eval_limb_specs(
    params: dict, num_layers: int, has_bias, kind: str, *, regression: bool = False, committed: bool = False
) -> dict[str, LimbSpec]:
    F, Q = params["frac_bits"], params["act_bits"]
    specs: list[LimbSpec] = []
    for l in range(1, num_layers + 1):
        specs.append(remainder_spec(f"RZ{l}", F))
        if l < num_layers:
            specs.append(unsigned_spec(f"S{l}", 1))
            specs.append(unsigned_spec(f"M{l}", Q))
    if kind == "evaluation":
        specs.append(signed_spec("O", Q))
        if not regression:
            specs += [unsigned_spec("P", 1), unsigned_spec("D", Q + 1)]
    if committed:
        specs.append(signed_spec("XC", params["input_bits"]))
        specs.append(signed_spec("YC", params["label_bits"]) if regression else unsigned_spec("YC", 1))
    for l in range(1, num_layers + 1):
        specs.append(signed_spec(f"FW{l}", params["weight_bits"]))
        if has_bias[l - 1]:
            specs.append(signed_spec(f"FB{l}", params["bias_bits"]))
    return {sp.name: sp for sp in specs}


def eval_tensor_shape(name: str, sh: Shapes) -> tuple[int, ...]:
    L = sh.num_layers
    if name in ("O", "P", "D", "YC", "TY"):
        return (sh.batch, sh.widths[L])
    if name in ("XC", "TX"):
        return (sh.batch, sh.widths[0])
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
    X: np.ndarray | None  # padded public inputs (N' × d'_0), int64; None for committed test data
    X_fr: Fr | None
    labels: np.ndarray | None  # public evaluation: class labels (n) or, regression, targets (n × d_L) of the rows
    outputs: np.ndarray | None  # inference: padded public outputs (N' × d'_L), int64
    split_blinds: dict | None = None  # test_data "training-split": the openings of the training statement's test split
    #: committed test data: the commitments to the inputs ``TX`` (N' × d'_0) and labels or targets ``TY`` (N' × d'_L)
    data_commitments: dict[str, Commitment] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        st: Statement,
        est: EvalStatement,
        X: np.ndarray | None = None,
        *,
        labels: np.ndarray | None = None,
        outputs: np.ndarray | None = None,
        split_blinds: dict | None = None,
    ) -> EvalPublic:
        """Check the public data against the statements (hashes, shapes, declared ranges) and derive the layout.
        For committed test data there are no rows (``X``, ``labels`` None), only the commitments' layouts to check.
        Raises ``StatementMismatch`` when they do not fit."""
        if est.training_statement != st.digest().hex():
            raise StatementMismatch(
                f"the evaluation is bound to training statement {est.training_statement}, not to the given one "
                f"({st.digest().hex()})"
            )
        if est.range_backend != st.range_backend or est.generators_digest != st.generators_digest:
            raise StatementMismatch("the evaluation statement's range back-end or generators differ from training's")
        n, C = est.n_rows, st.widths[-1]
        fp = st.params
        sh = Shapes.of(st.widths, 1, n, 1)
        if est.kind == "evaluation" and not est.regression and C < 2:
            raise StatementMismatch("an evaluation counts correct classes: the model needs ≥ 2 outputs")
        Xp = out_p = None
        coms: dict[str, Commitment] = {}
        if est.committed_data:
            if X is not None or labels is not None:
                raise StatementMismatch("an evaluation on committed test data has no public rows")
            coms = _data_commitments(st, est, sh)
        else:
            Xp = _public_inputs(st, est, X, sh)
        if est.kind == "evaluation" and not est.committed_data:
            labels = _public_labels(st, est, labels)
            if est.test_data == "training-split":
                if st.test_split is None or st.test_split["n_rows"] != n:
                    raise StatementMismatch("the training statement commits no test split of these rows")
                if est.regression:
                    raise StatementMismatch("the training statement's test split holds class labels, not targets")
                if split_blinds is None:
                    raise StatementMismatch("an evaluation on the training statement's test split needs its openings")
        elif est.kind == "inference":
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
        specs = eval_limb_specs(
            st.params.to_dict(),
            st.num_layers,
            st.has_bias,
            est.kind,
            regression=est.regression,
            committed=est.committed_data,
        )
        segs = []
        for name, sp in specs.items():
            log_size = sum(log2(s) for s in eval_tensor_shape(name, sh))
            for seg, bits in zip(sp.segment_names(), sp.limb_bits):
                segs.append((seg, log_size, bits))
        X_fr = None if Xp is None else Fr.from_int64(Xp.reshape(-1))
        return cls(st, est, sh, specs, RangeLayout(segs), Xp, X_fr, labels, out_p, split_blinds, coms)

    @property
    def n_layers(self) -> int:
        return self.st.num_layers

    @property
    def n_rows(self) -> int:
        return self.est.n_rows

    def nv(self, shape) -> int:
        return self.sh.nvars(shape)

    @property
    def committed(self) -> bool:
        """The test rows are committed (``TX``, ``TY``), not public."""
        return bool(self.data_commitments)

    def labels_one_hot(self) -> np.ndarray:
        """Y[i, j] = [labels_i = j] on the real rows, zero on padded rows (N' × d'_L)."""
        assert self.labels is not None
        return label_table(self.sh, self.labels, regression=False)

    def targets(self) -> np.ndarray:
        """Regression on public data: the targets padded to N' × d'_L."""
        assert self.labels is not None
        return label_table(self.sh, self.labels, regression=True)


def label_table(sh: Shapes, labels: np.ndarray, *, regression: bool) -> np.ndarray:
    """The labels as the proof uses them (N' × d'_L, zero on padded rows): one-hot classes, or the targets."""
    if regression:
        return pad_to(labels, (sh.batch, sh.widths[-1]))
    Y = np.zeros((sh.batch, sh.widths[-1]), dtype=np.int64)
    Y[np.arange(labels.shape[0]), labels] = 1
    return Y


def _public_inputs(st: Statement, est: EvalStatement, X, sh: Shapes) -> np.ndarray:
    n, d0 = est.n_rows, st.widths[0]
    X = np.asarray(X) if X is not None else None
    if X is None or X.dtype != np.int64 or X.shape != (n, d0):
        got = "none" if X is None else f"{X.dtype} {X.shape}"
        raise StatementMismatch(f"the public inputs must be int64 of shape ({n}, {d0}), got {got}")
    if array_sha256(X) != est.inputs_sha256:
        raise StatementMismatch("the public inputs do not match inputs_sha256 of the evaluation statement")
    try:
        check_range(X, st.params.range_of("X"), tensor="X")
    except QuantizationOverflow as exc:
        raise StatementMismatch(f"the public inputs leave the declared input range: {exc}") from None
    return pad_to(X, (sh.batch, sh.widths[0]))


def _public_labels(st: Statement, est: EvalStatement, labels) -> np.ndarray:
    n, C = est.n_rows, st.widths[-1]
    labels = np.asarray(labels) if labels is not None else None
    shape = (n, C) if est.regression else (n,)
    what = "targets" if est.regression else "labels"
    if labels is None or labels.dtype != np.int64 or labels.shape != shape:
        raise StatementMismatch(f"an evaluation needs int64 {what} of shape {shape}")
    if array_sha256(labels) != est.labels_sha256:
        raise StatementMismatch(f"the {what} do not match labels_sha256 of the evaluation statement")
    if est.regression:
        try:
            check_range(labels, st.params.range_of("Y"), tensor="Y")
        except QuantizationOverflow as exc:
            raise StatementMismatch(f"the targets leave the declared label range: {exc}") from None
    elif labels.min() < 0 or labels.max() >= C:
        raise StatementMismatch(f"labels must be classes in [0, {C})")
    return labels


def _data_commitments(st: Statement, est: EvalStatement, sh: Shapes) -> dict[str, Commitment]:
    """The commitments to committed test data (the evaluation statement's, or the training statement's split), in
    the canonical layouts of their padded shapes."""
    if est.test_data == "committed":
        coms = est.data_commitments()
    else:
        if st.test_split is None or st.test_split["n_rows"] != est.n_rows:
            raise StatementMismatch("the training statement commits no test split of these rows")
        if est.regression:
            raise StatementMismatch("the training statement's test split holds class labels, not regression targets")
        coms = {"TX": st.test_split["X"], "TY": st.test_split["Y"]}
    for name, com in coms.items():
        n = int(np.prod(eval_tensor_shape(name, sh)))
        if com.layout != Layout.for_length(n):
            raise StatementMismatch(f"the commitment to the test data's {name} is not laid out for {n} entries")
    return coms


def forward_int(pub: EvalPublic, weights, biases, X: np.ndarray) -> dict[str, np.ndarray]:
    """The integer forward pass on the padded inputs ``X``, as the reference (``predict_int``) computes it, with
    every intermediate the proof needs. Raises ``QuantizationOverflow`` when a value leaves its declared range."""
    st, sh = pub.st, pub.sh
    fp = st.params
    R, F, L = fp.ranges, fp.frac_bits, st.num_layers
    rowmask = (np.arange(sh.batch) < pub.n_rows).astype(np.int64)[:, None]
    out: dict[str, np.ndarray] = {"X": X}
    A = X
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
    """The prover's int64 tables (padded) and their field versions. ``data``: committed test data only, the
    prover's rows ``{"X": (n × d_0) int64, "labels": (n,) classes or (n × d_L) targets}``."""

    def __init__(self, pub: EvalPublic, weights, biases, data: dict | None = None):
        self.pub = pub
        L = pub.n_layers
        if len(weights) != L or len(biases) != L:
            raise ZkdlError(f"the model has {len(weights)} layers, the training statement {L}")
        if pub.committed:
            if data is None:
                raise ZkdlError("an evaluation on committed test data needs the prover's rows")
            tables = test_data_tables(pub.st.widths, data["X"], data["labels"], regression=pub.est.regression)
            X = tables["X"]
            self.ints = forward_int(pub, weights, biases, X)
            self.ints["TX"] = self.ints["XC"] = X
            self.ints["TY"] = self.ints["YC"] = tables["Y"]
        else:
            assert pub.X is not None
            self.ints = forward_int(pub, weights, biases, pub.X)
        O = self.ints[f"Zp{L}"]
        if pub.est.kind == "evaluation":
            self.ints["O"] = O
        if pub.est.kind == "evaluation" and not pub.est.regression:
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


def test_data_tables(widths, X: np.ndarray, labels: np.ndarray, *, regression: bool = False) -> dict[str, np.ndarray]:
    """The committed forms of a test set (the training statement's held-out split, or committed test data):
    inputs padded to pow2(n) × pow2(d_0); one-hot labels (0/1), or for a regression the targets, padded to
    pow2(n) × pow2(d_L)."""
    n = X.shape[0]
    sh = Shapes.of(widths, 1, n, 1)
    return {"X": pad_to(X, (sh.batch, sh.widths[0])), "Y": label_table(sh, np.asarray(labels), regression=regression)}


def commit_test_data(
    params, widths, X: np.ndarray, labels: np.ndarray, blinds: dict | None = None, rng=None, *, regression=False
):
    """Commit (or, with ``blinds``, recommit) a test set: ``({"n_rows", "X", "Y"}, {"X": Opening, ...})`` (hiding:
    fresh blinding factors unless ``blinds`` are given)."""
    from ..commit.pedersen import commit_int

    out: dict = {"n_rows": int(X.shape[0])}
    opens = {}
    for name, table in test_data_tables(widths, X, labels, regression=regression).items():
        out[name], opens[name] = commit_int(
            params, table.reshape(-1), rng=rng, blinds=None if blinds is None else blinds[name]
        )
    return out, opens


def check_test_split_opening(params, pub: EvalPublic) -> None:
    """The public test data opens the training statement's test split commitments (``StatementMismatch``
    otherwise)."""
    st = pub.st
    assert st.test_split is not None and pub.split_blinds is not None and pub.labels is not None
    assert pub.X is not None
    X = pub.X[: pub.n_rows, : st.widths[0]]
    try:
        coms, _ = commit_test_data(params, st.widths, X, pub.labels, blinds=pub.split_blinds)
    except (ValueError, TypeError, KeyError) as exc:
        raise StatementMismatch(f"the openings of the test split are unusable: {exc}") from None
    for name in ("X", "Y"):
        if coms[name].to_bytes() != st.test_split[name].to_bytes():
            raise StatementMismatch(
                f"the test data is not the split committed in the training statement (its {name} does not open it)"
            )
