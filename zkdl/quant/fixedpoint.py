"""Fixed-point parameters, declared integer ranges, quantization and rescaling.

Every tensor of the integer training step (``zkdl.quant.train``) has a *role* (``"Z"``, ``"G_A_remainder"``, ``"dW"``
...) and every role has a declared integer range, a half-open interval :class:`IntRange`. The ranges are public
(part of the statement); the reference step raises :class:`~zkdl.errors.QuantizationOverflow` as soon as a value
leaves its range, and :meth:`FixedPointParams.check_no_wrap` shows, for a given architecture, that no field relation
of the protocol can wrap around the BLS12-381 scalar modulus. The bound arithmetic is in ``docs/quantization.md``.

Scales: inputs, labels, weights, biases, rescaled pre-activations ``Z'``, activations and gradients ``G_Z``, ``G'_A``
are at scale ``2^F``; the raw matmul outputs ``Z``, ``G_A``, ``G_W`` are at scale ``2^(2F)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from functools import lru_cache

import numpy as np

from zkdl.constants import FR_MODULUS as FIELD_MODULUS  # the relations' field: the no-wrap bound
from zkdl.errors import QuantizationConfigError, QuantizationOverflow

INT64_MAX = (1 << 63) - 1
#: The training losses: ``"mse"`` (½‖O − Y‖², gradient ``O − Y``) and ``"ce"`` (softmax cross-entropy, gradient
#: ``softmax(O) − Y`` through the integer softmax of :class:`SoftmaxParams`).
LOSSES = ("mse", "ce")
#: Largest bit count a declared magnitude may have: every declared range must lie inside ``[-2^62, 2^62]`` so
#: that one addition (the rounding offset, ``O − Y``, an update) can never leave int64.
MAX_DECLARED_BITS = 62


@dataclass(frozen=True)
class IntRange:
    """The half-open integer interval ``[lo, hi)``."""

    lo: int
    hi: int

    def __post_init__(self) -> None:
        if self.hi <= self.lo:
            raise QuantizationConfigError(f"empty integer range [{self.lo}, {self.hi})")

    @classmethod
    def signed(cls, bits: int) -> IntRange:
        """``[-2^bits, 2^bits)``: what the sign gadget ``M = (1−2S)⊙x − S ∈ [0, 2^bits)`` admits."""
        return cls(-(1 << bits), 1 << bits)

    @classmethod
    def unsigned(cls, bits: int) -> IntRange:
        """``[0, 2^bits)``."""
        return cls(0, 1 << bits)

    @classmethod
    def remainder(cls, k: int) -> IntRange:
        """The range of ``rescale_k``'s remainder: ``[-2^(k-1), 2^(k-1))``, or ``{0}`` for ``k = 0``."""
        if k == 0:
            return cls(0, 1)
        return cls(-(1 << (k - 1)), 1 << (k - 1))

    @classmethod
    def rescale_preimage(cls, k: int, bits: int) -> IntRange:
        """All ``z`` with ``rescale_k(z) ∈ [-2^bits, 2^bits)``: ``[-2^(k+bits) − h, 2^(k+bits) − h)``, ``h = 2^(k-1)``
        (``h = 0`` for ``k = 0``). A range check on the quotient and the remainder implies exactly this range."""
        h = (1 << (k - 1)) if k > 0 else 0
        return cls(-(1 << (k + bits)) - h, (1 << (k + bits)) - h)

    @property
    def max_abs(self) -> int:
        """``max |x|`` over the interval."""
        return max(-self.lo, self.hi - 1)

    @property
    def size(self) -> int:
        return self.hi - self.lo

    @property
    def check_bits(self) -> int:
        """Bits of the range check ``x − lo ∈ [0, 2^check_bits)`` that covers this interval (exact when the size is a
        power of two, which holds for every declared range)."""
        return (self.size - 1).bit_length()

    def __contains__(self, x: object) -> bool:
        return isinstance(x, int | np.integer) and self.lo <= int(x) < self.hi

    def __str__(self) -> str:
        return f"[{self.lo}, {self.hi})"


def check_range(
    x: np.ndarray,
    rng: IntRange,
    *,
    tensor: str,
    layer: int | None = None,
    step: int | None = None,
) -> None:
    """Raise :class:`QuantizationOverflow` naming ``tensor``, ``layer`` and ``step`` if an entry of ``x`` is outside
    ``rng``. The exception carries ``.tensor``, ``.layer``, ``.step``, ``.index``, ``.value`` and ``.range``."""
    a = np.asarray(x)
    if a.size == 0:
        return
    lo, hi = int(a.min()), int(a.max())
    if lo >= rng.lo and hi < rng.hi:
        return
    bad = (a < rng.lo) | (a >= rng.hi)
    flat = int(np.argmax(bad.ravel()))
    index = tuple(int(i) for i in np.unravel_index(flat, a.shape))
    value = int(a.ravel()[flat])
    where = []
    if layer is not None:
        where.append(f"layer {layer}")
    if step is not None:
        where.append(f"step {step}")
    loc = f" ({', '.join(where)})" if where else ""
    err = QuantizationOverflow(
        f"{tensor}{loc} left its declared range {rng}: value {value} at index {index} "
        f"(entries span [{lo}, {hi}]); lower the learning rate, rescale the data or widen the declared ranges"
    )
    err.tensor, err.layer, err.step = tensor, layer, step
    err.index, err.value, err.range = index, value, rng
    raise err


def _as_int64(z: np.ndarray | int | Sequence[int], what: str) -> np.ndarray:
    a = np.asarray(z)
    if a.dtype == object:
        vals = [int(v) for v in a.ravel()]
        if vals and (min(vals) < -INT64_MAX - 1 or max(vals) > INT64_MAX):
            raise QuantizationOverflow(f"{what}: value does not fit into int64")
        return np.array(vals, dtype=np.int64).reshape(a.shape)
    if not np.issubdtype(a.dtype, np.integer):
        raise QuantizationConfigError(f"{what}: expected an integer array, got dtype {a.dtype}")
    if a.dtype == np.uint64 and a.size and int(a.max()) > INT64_MAX:
        raise QuantizationOverflow(f"{what}: value does not fit into int64")
    return a.astype(np.int64, copy=False)


def rescale(z: np.ndarray | int | Sequence[int], k: int) -> tuple[np.ndarray, np.ndarray]:
    """``rescale_k(z) = floor((z + 2^(k-1)) / 2^k)`` (round half up), elementwise, and the remainder
    ``z − 2^k·rescale_k(z) ∈ [−2^(k−1), 2^(k−1))``. ``k = 0`` is the identity with remainder 0.

    Returns ``(quotient, remainder)`` as int64 arrays of ``z``'s shape. Never wraps: raises
    :class:`QuantizationOverflow` if ``z + 2^(k-1)`` would leave int64.
    """
    if not isinstance(k, int | np.integer) or not 0 <= int(k) <= MAX_DECLARED_BITS:
        raise QuantizationConfigError(f"rescale shift must be an integer in [0, {MAX_DECLARED_BITS}], got {k!r}")
    k = int(k)
    a = _as_int64(z, "rescale input")
    if k == 0:
        return a.copy(), np.zeros_like(a)
    half = 1 << (k - 1)
    if a.size and int(a.max()) > INT64_MAX - half:
        raise QuantizationOverflow(f"rescale input {int(a.max())} + 2^{k - 1} does not fit into int64")
    q = (a + half) >> k  # arithmetic shift: floor division by 2^k for negative values too
    r = a - (q << k)
    return q, r


def quantize(
    x: np.ndarray | float | Sequence[float],
    frac_bits: int,
    *,
    rng: IntRange | None = None,
    tensor: str = "tensor",
) -> np.ndarray:
    """Real → fixed point: ``floor(x·2^F + 1/2)`` (round half up, like :func:`rescale`) as int64. Raises
    :class:`QuantizationOverflow` for non-finite values or (when ``rng`` is given) values outside ``rng``."""
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise QuantizationOverflow(f"{tensor}: cannot quantize non-finite values (NaN or infinity)")
    scaled = np.floor(a * float(1 << frac_bits) + 0.5)
    if scaled.size and float(np.max(np.abs(scaled))) >= float(1 << MAX_DECLARED_BITS):
        raise QuantizationOverflow(f"{tensor}: value too large to quantize with {frac_bits} fractional bits")
    q = scaled.astype(np.int64)
    if rng is not None:
        check_range(q, rng, tensor=tensor)
    return q


def dequantize(q: np.ndarray | int, frac_bits: int) -> np.ndarray:
    """Fixed point → float64: ``q / 2^F``."""
    return np.asarray(q, dtype=np.float64) / float(1 << frac_bits)


@dataclass(frozen=True, init=False)
class FixedPointParams:
    """Public fixed-point parameters of a training run.

    - ``frac_bits`` ``F``: every real value ``x`` is represented by ``round(x·2^F)``.
    - ``lr_shift`` ``s``: the SGD update is ``ΔW = rescale_{F+s}(Aᵀ·G_Z)``, ``Δb = rescale_s(Σ_rows G_Z)``, i.e.
      ``W ← W − 2^-s·Σ_batch ∇`` with ``∇`` the per-sample gradient of ``½‖O − Y‖²``. In float terms this is SGD
      on the batch-mean loss with learning rate ``η = B·2^-s`` (``1/B`` folded into the shift).
    - ``*_bits``: declared magnitudes, in bits of the integer representation (so ``F + 4`` means ``|x| < 16.0``).
      ``None`` (the constructor's default) picks the default derived from ``F`` (see ``docs/quantization.md``):
      inputs, labels, weights and biases ``F + 4``; ``act_bits`` (``Q``, the bound on ``Z'``, activations and the
      output) ``min(2F, 62 − F)``; ``grad_bits`` (``G_Z``, ``G'_A``) ``Q − 1``; ``update_bits`` (``ΔW``, ``Δb``)
      ``min(weight_bits, F − 1)`` (a step moves a weight by less than 0.5). After construction every field is a
      plain ``int``.
    """

    frac_bits: int
    lr_shift: int
    input_bits: int
    label_bits: int
    weight_bits: int
    bias_bits: int
    act_bits: int
    grad_bits: int
    update_bits: int
    _ranges: dict[str, IntRange] = field(init=False, repr=False, compare=False, hash=False)

    def __init__(
        self,
        frac_bits: int = 16,
        lr_shift: int = 8,
        input_bits: int | None = None,
        label_bits: int | None = None,
        weight_bits: int | None = None,
        bias_bits: int | None = None,
        act_bits: int | None = None,
        grad_bits: int | None = None,
        update_bits: int | None = None,
    ) -> None:
        given: dict[str, int | None] = {
            "frac_bits": frac_bits,
            "lr_shift": lr_shift,
            "input_bits": input_bits,
            "label_bits": label_bits,
            "weight_bits": weight_bits,
            "bias_bits": bias_bits,
            "act_bits": act_bits,
            "grad_bits": grad_bits,
            "update_bits": update_bits,
        }
        for name, v in given.items():
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer)):
                raise QuantizationConfigError(f"{name} must be an integer, got {v!r}")
        F, s = int(frac_bits), int(lr_shift)
        if not 1 <= F <= 30:
            raise QuantizationConfigError(f"frac_bits must be in [1, 30], got {F}")
        if not 0 <= s <= 40:
            raise QuantizationConfigError(f"lr_shift must be in [0, 40], got {s}")
        bits: dict[str, int] = {}
        for name, d in (
            ("input_bits", F + 4),
            ("label_bits", F + 4),
            ("weight_bits", F + 4),
            ("bias_bits", F + 4),
            ("act_bits", min(2 * F, MAX_DECLARED_BITS - F)),
        ):
            v = given[name]
            bits[name] = d if v is None else int(v)
        # signed ranges take one more bit than their magnitude: Q − 1 and F − 1 make G'_A, G_Z and ΔW, Δb whole
        # 16-bit limbs at F = 16 (docs/quantization.md, "Declared ranges")
        bits["grad_bits"] = max(1, bits["act_bits"] - 1) if grad_bits is None else int(grad_bits)
        bits["update_bits"] = max(1, min(bits["weight_bits"], F - 1)) if update_bits is None else int(update_bits)
        for name in self._BIT_FIELDS:
            if bits[name] < 1:
                raise QuantizationConfigError(f"{name} must be at least 1, got {bits[name]}")
        # every declared range (and the implied ranges of the raw matmul outputs) must fit inside ±2^62
        implied = {
            "Z (F + act_bits)": F + bits["act_bits"],
            "G_A (F + grad_bits)": F + bits["grad_bits"],
            "G_W (F + lr_shift + update_bits)": F + s + bits["update_bits"],
            "G_b (lr_shift + update_bits)": s + bits["update_bits"],
            "2^F·b (F + bias_bits)": F + bits["bias_bits"],
            **{n: bits[n] for n in self._BIT_FIELDS},
        }
        for name, b in implied.items():
            if b > MAX_DECLARED_BITS:
                raise QuantizationConfigError(
                    f"declared range of {name} has {b} bits; at most {MAX_DECLARED_BITS} fit the int64 reference"
                )
        set_ = object.__setattr__
        set_(self, "frac_bits", F)
        set_(self, "lr_shift", s)
        for name in self._BIT_FIELDS:
            set_(self, name, bits[name])
        set_(self, "_ranges", self._build_ranges())

    _BIT_FIELDS = (
        "input_bits",
        "label_bits",
        "weight_bits",
        "bias_bits",
        "act_bits",
        "grad_bits",
        "update_bits",
    )

    @property
    def scale(self) -> int:
        """``2^F``."""
        return 1 << self.frac_bits

    def float_learning_rate(self, batch_size: int) -> float:
        """The float SGD learning rate on the batch-mean loss ``(1/B)·Σ ½‖o − y‖²`` that the integer step
        approximates: ``B·2^-s``."""
        return batch_size / float(1 << self.lr_shift)

    def _build_ranges(self) -> dict[str, IntRange]:
        F, s = self.frac_bits, self.lr_shift
        Q, g, u = self.act_bits, self.grad_bits, self.update_bits
        S = IntRange.signed
        return {
            "X": S(self.input_bits),
            "Y": S(self.label_bits),
            "W": S(self.weight_bits),
            "b": S(self.bias_bits),
            "Z": IntRange.rescale_preimage(F, Q),
            "Z_rescaled": S(Q),
            "Z_remainder": IntRange.remainder(F),
            "S": IntRange.unsigned(1),
            "relu_magnitude": IntRange.unsigned(Q),
            "A": IntRange.unsigned(Q),
            "O": S(Q),
            "G_Z": S(g),
            "G_A": IntRange.rescale_preimage(F, g),
            "G_A_rescaled": S(g),
            "G_A_remainder": IntRange.remainder(F),
            "G_W": IntRange.rescale_preimage(F + s, u),
            "dW": S(u),
            "dW_remainder": IntRange.remainder(F + s),
            "G_b": IntRange.rescale_preimage(s, u),
            "db": S(u),
            "db_remainder": IntRange.remainder(s),
        }

    @property
    def ranges(self) -> dict[str, IntRange]:
        """Declared range of every tensor role (a copy). Keys: ``X, Y, W, b, Z, Z_rescaled, Z_remainder, S,
        relu_magnitude (M = (1−2S)⊙Z' − S), A, O, G_Z, G_A, G_A_rescaled, G_A_remainder, G_W, dW, dW_remainder, G_b,
        db, db_remainder``. ``Z``, ``G_A``, ``G_W`` and ``G_b`` are the exact preimages of their rescaled ranges, so a
        range check on quotient and remainder implies them."""
        return dict(self._ranges)

    def range_of(self, role: str) -> IntRange:
        try:
            return self._ranges[role]
        except KeyError:
            raise QuantizationConfigError(f"unknown tensor role {role!r}; known: {sorted(self._ranges)}") from None

    def relation_bounds(
        self, widths: Sequence[int], batch_size: int, steps: int, *, loss: str = "mse"
    ) -> dict[str, int]:
        """For each field relation of the protocol (section 3), an upper bound on ``|lhs| + |rhs|`` of its integer
        reading when every range-checked tensor is inside its declared range. A relation that holds mod ``r`` holds
        over the integers when this bound is ``< r``. The proof range-checks the initial and final weights and
        biases and every update, not the weights of the steps in between: those are ``W_t = W_0 − Σ_{t'<t} ΔW_{t'}``
        (padded steps repeat ``W_T``), so the bounds use ``|W_t| ≤ 2^weight_bits + T·2^update_bits`` (biases
        likewise). The output gradient ``G_Z = O − Y`` is range-checked (``grad_bits``)."""
        widths = _check_widths(widths)
        if batch_size < 1 or steps < 0:
            raise QuantizationConfigError(f"batch_size must be ≥ 1 and steps ≥ 0, got {batch_size}, {steps}")
        R = self._ranges
        F, s = self.frac_bits, self.lr_shift
        w_eff = R["W"].max_abs + steps * R["dW"].max_abs  # the update history bounds W_t (not range-checked)
        b_eff = R["b"].max_abs + steps * R["db"].max_abs
        g = R["G_Z"].max_abs
        out: dict[str, int] = {}
        L = len(widths) - 1
        for l in range(1, L + 1):
            d_in = widths[l - 1]
            a_max = R["X"].max_abs if l == 1 else R["A"].max_abs
            out[f"forward matmul Z = A·W + 2^F·b (layer {l})"] = (
                d_in * a_max * w_eff + (1 << F) * b_eff + (1 << F) * R["Z_rescaled"].max_abs + R["Z_remainder"].max_abs
            )
            out[f"weight gradient G_W = Aᵀ·G_Z = 2^(F+s)·ΔW + R (layer {l})"] = (
                batch_size * a_max * g + (1 << (F + s)) * R["dW"].max_abs + R["dW_remainder"].max_abs
            )
            out[f"bias gradient Σ G_Z = 2^s·Δb + R (layer {l})"] = (
                batch_size * g + (1 << s) * R["db"].max_abs + R["db_remainder"].max_abs
            )
            out[f"weight update W_t = W_0 − Σ ΔW (layer {l})"] = 2 * R["W"].max_abs + steps * R["dW"].max_abs
            out[f"bias update b_t = b_0 − Σ Δb (layer {l})"] = 2 * R["b"].max_abs + steps * R["db"].max_abs
            if l < L:
                out[f"ReLU A = (1−S)⊙Z', M = (1−2S)⊙Z' − S (layer {l})"] = 3 * R["Z_rescaled"].max_abs + 2
                out[f"backward matmul G_A = G_Z·Wᵀ = 2^F·G'_A + R (layer {l})"] = (
                    widths[l + 1] * g * w_eff + (1 << F) * R["G_A_rescaled"].max_abs + R["G_A_remainder"].max_abs
                )
        # G_Z_L = O − Y (range-checked like the reference: |G_Z_L| < 2^grad_bits, the bound the weight and bias
        # gradients of layer L use)
        out["MSE gradient G_Z = O − Y"] = R["G_Z"].max_abs + R["O"].max_abs + R["Y"].max_abs
        if check_loss(loss) == "ce":
            sp = SoftmaxParams(F, widths[-1])
            SR = sp.ranges
            sigma = SR["softmax_division_remainder"].max_abs + 1  # Σ is range-checked like the remainder
            p_max = (1 << (F + 1)) - 1  # P, E are range-checked as F + 1 bits
            out["softmax shift m − O = 2^r·U + R"] = (
                2 * R["O"].max_abs + (1 << sp.shift) * SR["softmax_quotient"].max_abs + SR["softmax_remainder"].max_abs
            )
            out["softmax division 2^F·E = P·Σ + Q"] = (1 << F) * p_max + p_max * sigma + sigma
            out["softmax slack Σ − 1 − Q − K = 0"] = 3 * sigma + 1
            out["softmax gradient G_Z = P − Y"] = R["G_Z"].max_abs + p_max + R["Y"].max_abs
        return out

    def check_no_wrap(self, widths: Sequence[int], batch_size: int, steps: int, *, loss: str = "mse") -> None:
        """Raise :class:`QuantizationConfigError` if some relation of :meth:`relation_bounds` could wrap mod ``r``."""
        for name, bound in self.relation_bounds(widths, batch_size, steps, loss=loss).items():
            if bound >= FIELD_MODULUS:
                raise QuantizationConfigError(
                    f"{name}: integer values up to {bound} (2^{bound.bit_length()}) could wrap around the field "
                    f"modulus; narrow the declared ranges"
                )

    def to_dict(self) -> dict[str, int]:
        """All parameters as plain ints (for the statement)."""
        return {n: int(getattr(self, n)) for n in ("frac_bits", "lr_shift", *self._BIT_FIELDS)}


def _check_widths(widths: Sequence[int]) -> list[int]:
    try:
        ws = [int(w) for w in widths]
    except (TypeError, ValueError):
        raise QuantizationConfigError(f"widths must be a sequence of positive integers, got {widths!r}") from None
    if len(ws) < 2 or any(w < 1 for w in ws):
        raise QuantizationConfigError(f"widths must list at least two positive widths (d_0 … d_L), got {ws}")
    return ws


def check_loss(loss: object) -> str:
    """``loss`` if it is one of :data:`LOSSES`, else :class:`QuantizationConfigError`."""
    if loss not in LOSSES:
        raise QuantizationConfigError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    return str(loss)


# ------------------------------------------------------------------------------------------------- integer softmax

#: Fractional bits of the exponential's argument (the table's resolution): ``e^(−u/2^8)``, steps of ``1/256``.
EXP_ARG_FRAC_BITS = 8
#: Integer bits of the exponential's argument: logit differences up to ``2^6 = 64`` (``e^−64 ≈ 1.6·10^−28``).
EXP_ARG_INT_BITS = 6


@dataclass(frozen=True)
class SoftmaxParams:
    """The integer softmax of the cross-entropy gradient, for ``F`` fractional bits and ``C`` classes
    (``docs/quantization.md``, "Softmax cross-entropy"). Per row ``i`` of the output ``O`` (scale ``2^F``)::

        m_i      = max_j O_ij
        D_ij     = m_i − O_ij = 2^r·U_ij + R_ij      r = F − e,  U ∈ [0, 2^table_bits),  R ∈ [0, 2^r)
        E_ij     = T[U_ij],  T[u] = round(2^F · exp(−u / 2^e))        (the public exponential table)
        Σ_i      = Σ_j E_ij
        2^F·E_ij = P_ij·Σ_i + Q_ij                   Q ∈ [0, Σ_i)       (division with remainder)
        G_Z      = P − Y

    ``e = min(F, 8)`` (:data:`EXP_ARG_FRAC_BITS`), ``table_bits = e + 6``. ``U`` is the floor of ``D / 2^r``
    (remainder in ``[0, 2^r)``), so ``U ≥ 0, R ≥ 0`` imply ``D ≥ 0``: ``m`` is at least every entry of its row.
    The entry at the maximum has ``U = 0``, so ``Σ_i ≥ T[0] = 2^F > 0``. A row whose logits spread by
    ``64`` or more leaves the table (``U`` out of range) and raises :class:`QuantizationOverflow`."""

    frac_bits: int
    classes: int

    def __post_init__(self) -> None:
        if not 1 <= self.frac_bits <= 30 or self.classes < 1:
            raise QuantizationConfigError(
                f"softmax needs F in [1, 30] and ≥ 1 class, got {self.frac_bits}, {self.classes}"
            )

    @property
    def arg_frac_bits(self) -> int:
        """``e``: fractional bits of the exponential's argument."""
        return min(self.frac_bits, EXP_ARG_FRAC_BITS)

    @property
    def shift(self) -> int:
        """``r = F − e``: bits dropped from ``D`` before the lookup."""
        return self.frac_bits - self.arg_frac_bits

    @property
    def table_bits(self) -> int:
        """The table has ``2^table_bits`` entries, ``u = 0 .. 2^table_bits − 1``."""
        return self.arg_frac_bits + EXP_ARG_INT_BITS

    @property
    def sum_bits(self) -> int:
        """``Σ_i ≤ C·2^F < 2^sum_bits``: the bits of the range checks on the division's remainder ``Q`` and on its
        slack ``Σ − 1 − Q``."""
        return self.frac_bits + max(1, (self.classes - 1).bit_length() + 1)

    def table(self) -> np.ndarray:
        """``T[u] = round(2^F · exp(−u / 2^e))`` for ``u ∈ [0, 2^table_bits)``, int64 (read-only)."""
        return exp_table(self.frac_bits, self.arg_frac_bits, self.table_bits)

    @property
    def ranges(self) -> dict[str, IntRange]:
        """Declared ranges of the softmax's tensors: ``softmax_quotient`` (``U``), ``softmax_remainder`` (``R``),
        ``softmax_selector`` (the one-hot position of the maximum), ``softmax_probability`` (``P ∈ [0, 2^F]``),
        ``softmax_division_remainder`` (``Q``) and ``softmax_division_slack`` (``Σ − 1 − Q``)."""
        F = self.frac_bits
        return {
            "softmax_quotient": IntRange.unsigned(self.table_bits),
            "softmax_remainder": IntRange.unsigned(self.shift) if self.shift else IntRange(0, 1),
            "softmax_selector": IntRange.unsigned(1),
            "softmax_probability": IntRange(0, (1 << F) + 1),
            "softmax_division_remainder": IntRange.unsigned(self.sum_bits),
            "softmax_division_slack": IntRange.unsigned(self.sum_bits),
        }


@lru_cache(maxsize=8)
def exp_table(frac_bits: int, arg_frac_bits: int, table_bits: int) -> np.ndarray:
    """``T[u] = floor(2^F · exp(−u / 2^e) + 1/2)`` for ``u ∈ [0, 2^table_bits)``.

    Computed with :mod:`decimal` at 40 significant digits (``Decimal.exp`` is correctly rounded and specified
    independently of the platform), not with the platform's ``exp``: prover and verifier on different machines
    derive the same public table."""
    out = np.empty(1 << table_bits, dtype=np.int64)
    with localcontext() as ctx:
        ctx.prec = 40
        scale, half, denom = Decimal(1 << frac_bits), Decimal(1) / 2, Decimal(1 << arg_frac_bits)
        for u in range(1 << table_bits):
            v = scale * (Decimal(-u) / denom).exp() + half
            out[u] = int(v.to_integral_value(rounding="ROUND_FLOOR"))
    out.setflags(write=False)
    return out
