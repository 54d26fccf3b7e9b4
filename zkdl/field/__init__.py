"""Fr (BLS12-381 scalar field) vectors and the compute backends they run on."""

from .backend import Backend, get_backend, set_default_backend
from .constants import FR_BYTES, MODULUS
from .fr import Fr, scalar_limbs

__all__ = ["Backend", "FR_BYTES", "Fr", "MODULUS", "get_backend", "scalar_limbs", "set_default_backend"]
