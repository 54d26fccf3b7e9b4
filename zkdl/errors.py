"""Typed errors of zkdl.

Every failure a user can cause (bad input, corrupted files, invalid proofs) is raised as a subclass of
:class:`ZkdlError`, never as a bare traceback from deep inside the library.
"""

from __future__ import annotations


class ZkdlError(Exception):
    """Base class of every error zkdl raises on purpose."""


class ProofFormatError(ZkdlError):
    """A proof (or any serialized object) is malformed: bad magic, version, lengths, non-canonical field
    elements, points not on the curve or not in the prime-order subgroup, truncated or trailing data."""


class StatementMismatch(ZkdlError):
    """A proof was checked against a statement it was not made for (architecture, parameters, commitments)."""


class VerificationError(ZkdlError):
    """A well-formed proof failed a verifier check (a sumcheck round, a final claim, an opening)."""


class SetupError(ZkdlError):
    """Public parameters (generators) are missing, corrupted, or do not match the expected digest."""


class FieldRangeError(ZkdlError, ValueError):
    """A value cannot be represented as asked: a field element outside the requested signed integer range,
    an integer that does not fit into int64, a non-canonical encoding."""


class QuantizationOverflow(ZkdlError, ArithmeticError):
    """A quantized training value left its declared integer range. The message names the tensor and layer.

    Where it is raised, the error also carries ``tensor`` (the role), ``layer`` and ``step`` (``None`` where they do
    not apply) and, where known, ``index``, ``value`` and ``range`` (the declared ``IntRange``)."""

    tensor: str
    layer: int | None
    step: int | None
    index: tuple[int, ...]
    value: int
    range: object


class BackendUnavailable(ZkdlError, RuntimeError):
    """The requested compute backend (e.g. ``gpu``) cannot be used on this machine."""


class QuantizationConfigError(ZkdlError, ValueError):
    """Fixed-point parameters are inconsistent: a declared range does not fit into int64, or the declared ranges
    of an architecture would let a field relation wrap around the modulus."""


class ModelFormatError(ZkdlError, ValueError):
    """The user's model cannot be used: not a ``torch.nn.Sequential`` of ``Linear`` and ``ReLU`` layers (the
    message names the offending layer), inconsistent widths, or an unreadable file."""


class DatasetError(ZkdlError, ValueError):
    """A dataset cannot be used: missing ``X`` / ``y`` arrays, wrong shapes or dtypes, non-finite values, an
    unknown bundled dataset name, or a split that leaves no rows."""


class ResourceError(ZkdlError):
    """A run cannot be carried out on this machine: its outputs cannot be written (disk space) or its estimated
    memory exceeds what is available. Raised before any work."""


class RunFormatError(ZkdlError):
    """A chunked run's manifest (``run.json``) cannot be read or does not follow its schema: unusable input, not an
    invalid proof (``zkdl verify`` exits 2)."""


class ChainError(VerificationError):
    """The chunks of a run do not form one chain: a chunk is missing, duplicated, reordered, truncated or from
    another run, or a chunk's statement is not the one the manifest lists. ``chunk`` is the index of the chunk the
    message names (``None`` when the failure is the run as a whole)."""

    def __init__(self, message: str, chunk: int | None = None):
        super().__init__(message)
        self.chunk = chunk


#: Optional packages and the extra that installs them (``pip install "zkdl[EXTRA]"``).
OPTIONAL_PACKAGES = {
    "torch": "train",
    "sklearn": "train",
    "scipy": "train",
    "matplotlib": "plots",
    "cupy": "gpu",
    "ray": "cluster",
    "onnx": "onnx",
}


class MissingDependency(ZkdlError, ImportError):
    """An optional package is needed for what was asked (training needs ``zkdl[train]``); verifying needs none."""

    @classmethod
    def of(cls, exc: ImportError) -> MissingDependency | None:
        """The typed error for an ``ImportError`` of an optional package, or ``None`` for anything else."""
        top = (getattr(exc, "name", None) or "").split(".")[0]
        extra = OPTIONAL_PACKAGES.get(top)
        if extra is None:
            return None
        err = cls(f'{top} is not installed; this needs the [{extra}] extra: pip install "zkdl[{extra}]"')
        err.name = top
        return err


class StatementFormatError(ZkdlError, ValueError):
    """A statement (``statement.json`` or its dict) does not follow the one schema: a missing or unknown key, a
    duplicate key, a value of the wrong JSON type (a string where a boolean belongs, a float where an integer
    belongs), or a value outside its domain. The statement is unusable input, not an invalid proof."""


class TransparentProofRefused(VerificationError):
    """A transparent (not zero-knowledge) proof was given to a verifier that did not opt in to accepting one
    (``allow_transparent=True`` / ``zkdl verify --allow-transparent``). A transparent proof reveals witness
    values; it exists for debugging."""
