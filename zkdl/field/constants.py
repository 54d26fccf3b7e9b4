"""Constants of the BLS12-381 scalar field Fr and of its Montgomery representation (R = 2^256)."""

from __future__ import annotations

import numpy as np

from ..constants import FR_BYTES
from ..constants import FR_MODULUS as MODULUS

__all__ = ["FR_BYTES", "MODULUS", "MONT_INV", "MONT_R", "MONT_R2", "MODULUS_LIMBS", "int_to_limbs", "limbs_to_int"]
#: Montgomery radix R = 2^256.
MONT_R = (1 << 256) % MODULUS
MONT_R2 = (1 << 512) % MODULUS
#: -r^{-1} mod 2^64, the CIOS reduction constant.
MONT_INV = (-pow(MODULUS, -1, 1 << 64)) % (1 << 64)


def int_to_limbs(x: int) -> np.ndarray:
    """Little-endian 4×64-bit limbs of a non-negative integer below 2^256."""
    return np.frombuffer(int(x).to_bytes(32, "little"), dtype="<u8").astype(np.uint64)


def limbs_to_int(limbs) -> int:
    return int.from_bytes(np.ascontiguousarray(limbs, dtype="<u8").tobytes(), "little")


MODULUS_LIMBS = int_to_limbs(MODULUS)
