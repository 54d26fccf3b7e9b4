"""Fixed-point quantization and the integer reference training step that the prover attests.

- :mod:`zkdl.quant.fixedpoint`: :class:`FixedPointParams` (F, s, declared ranges), :func:`rescale`, quantization.
- :mod:`zkdl.quant.train`: :func:`train_step`, :func:`train_quantized` and their traces, :class:`BatchSchedule`.
- :mod:`zkdl.quant.model`: the user's model (torch Sequential or width list), quantized weights, float reference.
- :mod:`zkdl.quant.data`: datasets (``.npz`` or bundled scikit-learn), split and quantization.
- :mod:`zkdl.quant.evaluate`: float vs quantized held-out accuracy.
"""

from zkdl.quant.fixedpoint import FixedPointParams, IntRange, check_range, dequantize, quantize, rescale
from zkdl.quant.model import FloatModel, QuantizedModel, init_model, load_model, load_torch_model, quantize_model
from zkdl.quant.train import (
    BatchSchedule,
    LayerTrace,
    StepTrace,
    TrainingRun,
    accuracy_int,
    predict_int,
    train_quantized,
    train_step,
)

__all__ = [
    "BatchSchedule",
    "FixedPointParams",
    "FloatModel",
    "IntRange",
    "LayerTrace",
    "QuantizedModel",
    "StepTrace",
    "TrainingRun",
    "accuracy_int",
    "check_range",
    "dequantize",
    "init_model",
    "load_model",
    "load_torch_model",
    "predict_int",
    "quantize",
    "quantize_model",
    "rescale",
    "train_quantized",
    "train_step",
]
