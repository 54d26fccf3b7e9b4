"""zkdl: zero-knowledge proofs of neural-network training.

>>> import zkdl
>>> bundle = zkdl.prove_training(data="digits", widths=[64, 32, 10], steps=4, batch_size=32)
>>> zkdl.verify(bundle.proof, bundle.statement).valid
True
"""

from .errors import (
    ProofFormatError,
    SetupError,
    StatementMismatch,
    VerificationError,
    ZkdlError,
)

__version__ = "0.1.0"

_API = (
    "prove_training",
    "prove_run",
    "verify",
    "verify_run",
    "RunBundle",
    "RunVerificationResult",
    "VerificationResult",
    "ProofBundle",
    "public_params",
    "load_statement",
    "write_bundle",
    "evaluate",
    "infer",
    "verify_evaluation",
    "verify_inference",
    "EvaluationBundle",
    "EvaluationResult",
)


def __getattr__(name):  # the API pulls in torch and numba: import it on first use
    if name in _API:
        from . import api

        return getattr(api, name)
    if name == "Statement":
        from .protocol.statement import Statement

        return Statement
    raise AttributeError(f"module 'zkdl' has no attribute {name!r}")


__all__ = ["ProofFormatError", "SetupError", "Statement", "StatementMismatch", "VerificationError", "ZkdlError", *_API]
