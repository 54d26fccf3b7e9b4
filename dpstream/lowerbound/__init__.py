"""Lower-bound demos: error vs T, the reduction from batch 1-way marginals, the tracing attack,
and deliberately broken mechanisms (negative controls)."""

from dpstream.lowerbound.broken import (
    BROKEN,
    BrokenPerColumnTreeMaxSum,
    BrokenPerColumnTreeSumSelect,
    BrokenReusedNoiseSVTMaxSum,
)
from dpstream.lowerbound.demo import format_summary, run_lower_bound_demo
from dpstream.lowerbound.experiments import error_vs_d, error_vs_T, fit_slope, summarize
from dpstream.lowerbound.reduction import (
    embed_maxsum,
    embed_sumselect,
    marginals_via_maxsum,
    marginals_via_sumselect,
    maxsum_true_values,
)
from dpstream.lowerbound.tracing import auc, tracing_attack

__all__ = [
    "BROKEN",
    "BrokenPerColumnTreeMaxSum",
    "BrokenPerColumnTreeSumSelect",
    "BrokenReusedNoiseSVTMaxSum",
    "run_lower_bound_demo",
    "format_summary",
    "error_vs_T",
    "error_vs_d",
    "fit_slope",
    "summarize",
    "embed_maxsum",
    "embed_sumselect",
    "marginals_via_maxsum",
    "marginals_via_sumselect",
    "maxsum_true_values",
    "auc",
    "tracing_attack",
]
