"""Fr (BLS12-381 scalar field) vectors and the compute backends they run on."""

from .backend import Backend, get_backend, set_default_backend
from .constants import FR_BYTES, MODULUS
from .fr import Fr, mont_to_int, scalar_limbs

__all__ = ["Backend", "FR_BYTES", "Fr", "MODULUS", "get_backend", "mont_to_int", "scalar_limbs", "set_default_backend"]
