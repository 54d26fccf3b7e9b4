"""What prover and verifier derive from a statement (:class:`Public`) and the prover's tables (:class:`Witness`).

``Public`` is the statement's padded shapes, the limb specifications of every range-checked tensor, the layout
of the range tensors and the batch schedule's rows — everything both sides compute before the first message.
``Witness`` holds the stacked, padded int64 tensors of a training run (all steps of a layer on a leading step
axis, ``docs/protocol.md``), their field versions on demand, and the values of the range tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ZkdlError
from ..field import Fr
from ..gadgets.range_check import RangeLayouts
from ..quant.train import BatchSchedule, TrainingRun
from .shapes import LimbSpec, Shapes, limb_specs, log2, pad_to, tensor_shape
from .statement import Statement


@dataclass
class Public:
    """Everything both sides derive from the statement."""

    st: Statement
    sh: Shapes
    specs: dict[str, LimbSpec]
    layout: RangeLayouts  # the range tensors L0, L1, … and the segments each holds
    rows: np.ndarray  # (T, B) dataset row of each batch entry

    @classmethod
    def of(cls, st: Statement) -> Public:
        specs, layout = range_layout(st)
        sched = BatchSchedule(st.n_rows, st.batch_size, st.schedule_seed)
        t0 = st.step_offset  # a chunk of a run: its steps are t0 .. t0 + T - 1 of the one schedule
        rows = np.stack([sched.rows(t0 + t) for t in range(st.steps)]).astype(np.int64)
        return cls(st, st.shapes, specs, layout, rows)

    @property
    def n_layers(self) -> int:
        return self.st.num_layers

    def nv(self, shape) -> int:
        return self.sh.nvars(shape)


def range_layout(st: Statement) -> tuple[dict[str, LimbSpec], RangeLayouts]:
    """The limb specification of every range-checked tensor and the layout of the range tensors (cheap: no
    batch schedule): every limb is a segment, packed by size into range tensors ``L0, L1, …`` of at most 2^22
    entries each, every one but the last exactly full (``RangeLayouts.pack``)."""
    sh = st.shapes
    specs = limb_specs(st.params.to_dict(), st.num_layers, st.has_bias, loss=st.loss, classes=st.widths[-1])
    segs = []
    for name, sp in specs.items():
        log_size = sum(log2(s) for s in tensor_shape(name, sh))
        for seg, bits in zip(sp.segment_names(), sp.limb_bits):
            segs.append((seg, log_size, bits))
    return specs, RangeLayouts.pack(segs)


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
        self.ints["Ysched"] = stack(lambda tr: tr.Y, sh.act(pub.n_layers))
        for l in range(1, pub.n_layers + 1):
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
                b0, bT = run.initial.biases[l - 1], run.final.biases[l - 1]
                assert b0 is not None and bT is not None, "a layer with a bias in the statement has one in the run"
                self.ints[f"b0.{l}"] = pad_to(b0, sh.bias(l)[1:])
                self.ints[f"bT.{l}"] = pad_to(bT, sh.bias(l)[1:])
            if l < pub.n_layers:
                for name, attr in (
                    ("S", "S"),
                    ("M", "relu_magnitude"),
                    ("A", "A"),
                    ("GA", "G_A_rescaled"),
                    ("RGA", "G_A_remainder"),
                ):
                    self.ints[f"{name}{l}"] = layer_stack(l, attr, sh.act(l))
        if st.loss != run.loss:
            raise ZkdlError(f"the training run used loss {run.loss!r}, the statement says {st.loss!r}")
        if st.loss == "ce":
            self._softmax_tensors(traces)
        self.ints["O"] = self.ints[f"Zp{pub.n_layers}"]
        self.ints["GO"] = self.ints[f"GZ{pub.n_layers}"]
        self.ints["XS"] = self.ints["X"]
        self.ints["YS"] = self.ints["Y"]
        for l in range(1, pub.n_layers + 1):
            self.ints[f"IW{l}"] = self.ints[f"W0.{l}"]
            self.ints[f"FW{l}"] = self.ints[f"WT.{l}"]
            if st.has_bias[l - 1]:
                self.ints[f"IB{l}"] = self.ints[f"b0.{l}"]
                self.ints[f"FB{l}"] = self.ints[f"bT.{l}"]
        self.refresh()

    def _softmax_tensors(self, traces) -> None:
        """The integer softmax of every step (loss "ce"), stacked ``T' × B' × C'`` (rows ``T' × B'``). Padding:
        zero, except the exponential ``E = T_exp[0]`` at index ``U = 0`` (a row of the public table: the lookup
        covers every entry) and the padded rows' sums ``Σ = C·T_exp[0]`` (the row-sum relation covers every row)."""
        from ..quant.fixedpoint import SoftmaxParams
        from .relations.loss import MULTIPLICITIES, multiplicities

        sh, st = self.pub.sh, self.pub.st
        C = st.widths[-1]
        top = int(SoftmaxParams(st.params.frac_bits, C).table()[0])
        entry = (sh.steps, sh.batch, sh.widths[-1])
        out = {n: np.zeros(entry, dtype=np.int64) for n in ("SMU", "SMR", "SMSEL", "SMP", "SMQ", "SMK")}
        out["SME"] = np.full(entry, top, dtype=np.int64)
        out["SMMAX"] = np.zeros(entry[:2], dtype=np.int64)
        out["SMSUM"] = np.full(entry[:2], C * top, dtype=np.int64)
        for t, tr in enumerate(traces):
            sm = tr.softmax
            if sm is None:
                raise ZkdlError(f"step {t} has no softmax trace (loss 'ce')")
            B = sm.P.shape[0]
            for name, v in (("SMU", sm.U), ("SMR", sm.R), ("SMSEL", sm.selector), ("SME", sm.E), ("SMP", sm.P)):
                out[name][t, :B, :C] = v
            out["SMQ"][t, :B, :C] = sm.Q
            out["SMK"][t, :B, :C] = sm.slack
            out["SMMAX"][t, :B] = sm.max
            out["SMSUM"][t, :B] = sm.sum
        self.ints.update(out)
        self.ints[MULTIPLICITIES] = multiplicities(self.pub, out["SMU"])

    def refresh(self, *, check: bool = True) -> None:
        """Recompute the field tables and the range tensors from ``ints`` (after a test changed them).

        ``check=False`` skips the limb range check, so a cheating prover can put out-of-range limbs into the range
        tensors."""
        self._fr: dict[str, Fr] = {}
        if self.pub.st.loss == "ce":  # the exponential lookup's multiplicities follow the (possibly edited) indices
            from .relations.loss import MULTIPLICITIES, multiplicities

            self.ints[MULTIPLICITIES] = multiplicities(self.pub, self.ints["SMU"])
        limbs = {}
        for name, sp in self.pub.specs.items():
            for seg, arr in zip(sp.segment_names(), sp.limbs(self.ints[name], check=check)):
                limbs[seg] = arr
        #: int64 values of each range tensor by name (its segments are the limbs of the limbed tensors)
        self.range_values: dict[str, np.ndarray] = self.pub.layout.assemble(limbs)

    def segment_values(self, segment: str) -> np.ndarray:
        """The int64 values of one limb segment (a view into its range tensor)."""
        tensor, sl = self.pub.layout.slice(segment)
        return self.range_values[tensor][sl]

    def segment_fr(self, segment: str) -> Fr:
        """One limb segment as field elements (cached like ``fr`` until the next ``release``)."""
        key = f"segment:{segment}"
        if key not in self._fr:
            self._fr[key] = Fr.from_int64(self.segment_values(segment))
        return self._fr[key]

    def release(self, name: str | None = None) -> None:
        """Drop the cached field version of a tensor (the prover is done with it), or of every tensor (``None``:
        the next stage converts again what it needs, so the prover's field tables are one stage's working set)."""
        if name is None:
            self._fr.clear()
        else:
            self._fr.pop(name, None)

    def fr(self, name: str) -> Fr:
        if name not in self._fr:
            self._fr[name] = Fr.from_int64(self.ints[name].reshape(-1))
        return self._fr[name]
