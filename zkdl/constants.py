"""The curve's constants, defined once (BLS12-381). Pure Python: every layer may import it.

``zkdl.field`` (arithmetic), ``zkdl.serialize`` (encodings) and ``zkdl.quant`` (the no-wrap check) all take
their moduli and sizes from here.
"""

from __future__ import annotations

#: The scalar field modulus r (255 bits): the field of every proof relation.
FR_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
#: The base field modulus p (381 bits): coordinates of G1 points.
FP_MODULUS = int("1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab", 16)
#: Bytes of one canonical scalar (little-endian, standard form, value < r).
FR_BYTES = 32
#: Bytes of one compressed G1 point.
G1_BYTES = 48
