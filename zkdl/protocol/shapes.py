"""Padded shapes of the training relation and the public layout of the range tensor.

Every tensor is zero-padded axis by axis to powers of two: steps ``T → T'``, batch ``B → B'``, widths
``d_l → d'_l``, dataset rows ``n → N'``. Stacked tensors put the step axis first, so a claim's point is
``(u_t ‖ u_rest)`` (``docs/architecture.md``: x_1 is the most significant index bit).

Range-checked integer tensors are stored in one range tensor ``L`` as limbs of at most 16 bits
(:class:`LimbSpec`): value ``= Σ_i 2^(16 i)·limb_i − offset``, where ``offset`` shifts a signed range to
``[0, 2^bits)``. Every limb is a segment of ``L`` (``zkdl.gadgets.range_check.RangeLayout``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LIMB_BITS = 16


def pow2(n: int) -> int:
    """The smallest power of two ≥ n (and ≥ 1)."""
    return 1 << max(0, (int(n) - 1).bit_length())


def log2(n: int) -> int:
    assert n & (n - 1) == 0 and n > 0
    return n.bit_length() - 1


def split_point(point, *sizes: int) -> list[list[int]]:
    """Split an MLE point into the variable blocks of the (power-of-two) axis ``sizes``, most significant first."""
    out, i = [], 0
    for s in sizes:
        k = log2(s)
        out.append(list(point[i : i + k]))
        i += k
    assert i == len(point)
    return out


def pad_to(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Zero-pad an integer array axis by axis to ``shape``."""
    arr = np.asarray(arr)
    if arr.ndim != len(shape) or any(a > s for a, s in zip(arr.shape, shape)):
        raise ValueError(f"cannot pad shape {arr.shape} to {shape}")
    out = np.zeros(shape, dtype=np.int64)
    out[tuple(slice(0, a) for a in arr.shape)] = arr
    return out


@dataclass(frozen=True)
class LimbSpec:
    """An integer tensor range-checked as limbs: each entry ``x`` satisfies ``x + offset ∈ [0, 2^bits)``."""

    name: str
    bits: int
    offset: int

    @property
    def limb_bits(self) -> list[int]:
        if self.bits == 0:
            return [0]
        full, rest = divmod(self.bits, LIMB_BITS)
        return [LIMB_BITS] * full + ([rest] if rest else [])

    def segment_names(self) -> list[str]:
        return [f"{self.name}.{i}" for i in range(len(self.limb_bits))]

    def limbs(self, values: np.ndarray, *, check: bool = True) -> list[np.ndarray]:
        """Split int64 values (in range unless ``check=False``) into limbs (the top limb keeps any excess)."""
        v = np.asarray(values, dtype=np.int64).reshape(-1) + self.offset
        if check and v.size and (v.min() < 0 or (self.bits < 63 and v.max() >= 1 << self.bits)):
            raise ValueError(f"{self.name}: value outside its declared range")
        if not check:
            out = [(v >> (LIMB_BITS * i)) & ((1 << b) - 1) for i, b in enumerate(self.limb_bits[:-1])]
            out.append(v >> (LIMB_BITS * (len(self.limb_bits) - 1)))
            return out
        return [(v >> (LIMB_BITS * i)) & ((1 << b) - 1) for i, b in enumerate(self.limb_bits)]

    def recompose(self, limb_values: list[int]) -> int:
        """The field value of the tensor from its limbs' values (at one point): Σ 2^(16i)·limb_i − offset."""
        return sum(v << (LIMB_BITS * i) for i, v in enumerate(limb_values)) - self.offset


def signed_spec(name: str, bits: int) -> LimbSpec:
    """``x ∈ [−2^bits, 2^bits)`` as ``x + 2^bits ∈ [0, 2^(bits+1))``."""
    return LimbSpec(name, bits + 1, 1 << bits)


def remainder_spec(name: str, k: int) -> LimbSpec:
    """``x ∈ [−2^(k−1), 2^(k−1))`` (``{0}`` for k = 0)."""
    return LimbSpec(name, k, (1 << (k - 1)) if k else 0)


def unsigned_spec(name: str, bits: int) -> LimbSpec:
    return LimbSpec(name, bits, 0)


@dataclass(frozen=True)
class Shapes:
    """Padded dimensions of one training run."""

    widths: tuple[int, ...]  # d'_0 … d'_L
    steps: int  # T'
    batch: int  # B'
    rows: int  # N' (dataset rows)

    @classmethod
    def of(cls, widths, steps: int, batch: int, n_rows: int) -> Shapes:
        return cls(tuple(pow2(d) for d in widths), pow2(steps), pow2(batch), pow2(n_rows))

    @property
    def num_layers(self) -> int:
        return len(self.widths) - 1

    def act(self, l: int) -> tuple[int, int, int]:
        """Activation-like tensor of layer l (l = 0 for the input): (T', B', d'_l)."""
        return (self.steps, self.batch, self.widths[l])

    def weight(self, l: int) -> tuple[int, int, int]:
        """Per-step weights of layer l ≥ 1: (T', d'_{l-1}, d'_l)."""
        return (self.steps, self.widths[l - 1], self.widths[l])

    def bias(self, l: int) -> tuple[int, int]:
        return (self.steps, self.widths[l])

    def nvars(self, shape) -> int:
        return sum(log2(s) for s in shape)


#: The integer softmax's range-checked tensors (``relations/loss.py``), ``T' × B' × d'_L``: the table index ``U``,
#: the dropped bits ``R``, the selector of the maximum, the exponential ``E``, the probabilities ``P``, the division
#: remainder ``Q`` and its slack ``Σ − 1 − Q``.
SOFTMAX_ENTRY_TENSORS = ("SMU", "SMR", "SMSEL", "SME", "SMP", "SMQ", "SMK")
#: ... and per row (``T' × B'``): the maximum ``m`` and the sum ``Σ``.
SOFTMAX_ROW_TENSORS = ("SMMAX", "SMSUM")


def softmax_specs(params: dict, classes: int) -> list[LimbSpec]:
    """The limb specifications of the integer softmax's tensors (loss "ce"), from
    :class:`~zkdl.quant.fixedpoint.SoftmaxParams`: every range of its ``ranges`` is unsigned, ``[0, 2^bits)``
    (``P ∈ [0, 2^F]`` is checked as ``F + 1`` bits); ``m`` has the output's range."""
    from ..quant.fixedpoint import SoftmaxParams

    sp = SoftmaxParams(params["frac_bits"], classes)
    F = params["frac_bits"]
    return [
        unsigned_spec("SMU", sp.table_bits),
        unsigned_spec("SMR", sp.shift),
        unsigned_spec("SMSEL", 1),
        unsigned_spec("SME", F + 1),
        unsigned_spec("SMP", F + 1),
        unsigned_spec("SMQ", sp.sum_bits),
        unsigned_spec("SMK", sp.sum_bits),
        signed_spec("SMMAX", params["act_bits"]),
        unsigned_spec("SMSUM", sp.sum_bits),
    ]


def limb_specs(params: dict, num_layers: int, has_bias, *, loss: str = "mse", classes: int = 0) -> dict[str, LimbSpec]:
    """Every range-checked tensor of the training proof, by name (see ``docs/protocol.md``); with ``loss="ce"``
    also the integer softmax's (``classes`` = d_L, unpadded)."""
    F, s = params["frac_bits"], params["lr_shift"]
    Q, g, u = params["act_bits"], params["grad_bits"], params["update_bits"]
    specs: list[LimbSpec] = []
    L = num_layers
    for l in range(1, L + 1):
        specs.append(remainder_spec(f"RZ{l}", F))
        if l < L:
            specs.append(unsigned_spec(f"S{l}", 1))
            specs.append(unsigned_spec(f"M{l}", Q))
            specs.append(signed_spec(f"GA{l}", g))
            specs.append(remainder_spec(f"RGA{l}", F))
        specs.append(signed_spec(f"DW{l}", u))
        specs.append(remainder_spec(f"RDW{l}", F + s))
        if has_bias[l - 1]:
            specs.append(signed_spec(f"DB{l}", u))
            specs.append(remainder_spec(f"RDB{l}", s))
    specs.append(signed_spec("O", Q))
    specs.append(signed_spec("GO", g))  # the output gradient G_Z_L = O − Y_t
    # what the reference checks besides the intermediates: the whole dataset, the initial and final weights and
    # biases (a step's weights are bounded by the update history instead: docs/soundness.md §2)
    specs.append(signed_spec("XS", params["input_bits"]))
    specs.append(signed_spec("YS", params["label_bits"]))
    for l in range(1, L + 1):
        specs.append(signed_spec(f"IW{l}", params["weight_bits"]))
        specs.append(signed_spec(f"FW{l}", params["weight_bits"]))
        if has_bias[l - 1]:
            specs.append(signed_spec(f"IB{l}", params["bias_bits"]))
            specs.append(signed_spec(f"FB{l}", params["bias_bits"]))
    if loss == "ce":
        specs.extend(softmax_specs(params, classes))
    return {sp.name: sp for sp in specs}


def tensor_shape(name: str, shapes: Shapes) -> tuple[int, ...]:
    """Padded shape of a range-checked tensor by name."""
    if name in ("O", "GO") or name in SOFTMAX_ENTRY_TENSORS:
        return shapes.act(shapes.num_layers)
    if name in SOFTMAX_ROW_TENSORS:
        return (shapes.steps, shapes.batch)
    if name == "XS":
        return (shapes.rows, shapes.widths[0])
    if name == "YS":
        return (shapes.rows, shapes.widths[-1])
    kind = name.rstrip("0123456789")
    l = int(name[len(kind) :])
    if kind in ("RZ", "S", "M", "GA", "RGA"):
        return shapes.act(l)
    if kind in ("DW", "RDW"):
        return shapes.weight(l)
    if kind in ("DB", "RDB"):
        return shapes.bias(l)
    if kind in ("IW", "FW"):
        return shapes.weight(l)[1:]
    if kind in ("IB", "FB"):
        return shapes.bias(l)[1:]
    raise KeyError(name)
