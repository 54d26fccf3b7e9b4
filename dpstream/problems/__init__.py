"""MaxSum and SumSelect under continual observation (Jain, Raskhodnikova, Sivakumar, Smith, ICML 2023).

- (A) :class:`MaxSumTree`, :class:`SumSelectTree`: d binary-tree counters, then max / argmax.
- (B) :class:`MaxSumSVT`, :class:`SumSelectSVT`: sparse vector, re-release only when the answer moved by τ.
- (C) :func:`make` with ``method="auto"``: the candidate with the smaller stated bound for (T, d, privacy).
"""

from dpstream.accounting import EpsDP, Guarantee, zCDP
from dpstream.base import (
    DPError,
    HorizonExceeded,
    InvalidInput,
    InvalidParameter,
    StateError,
)
from dpstream.problems.combined import (
    MaxSumTrivial,
    SumSelectTrivial,
    candidate_bounds,
    from_state_dict,
    make,
    open,
)
from dpstream.problems.svt import MaxSumSVT, SumSelectSVT, SVTParameters, svt_parameters
from dpstream.problems.tree import MaxSumTree, SumSelectTree, tree_levels

__all__ = [
    "DPError",
    "HorizonExceeded",
    "InvalidInput",
    "InvalidParameter",
    "StateError",
    "zCDP",
    "EpsDP",
    "Guarantee",
    "MaxSumSVT",
    "SumSelectSVT",
    "SVTParameters",
    "svt_parameters",
    "MaxSumTree",
    "SumSelectTree",
    "tree_levels",
    "MaxSumTrivial",
    "SumSelectTrivial",
    "candidate_bounds",
    "make",
    "from_state_dict",
    "open",
]
