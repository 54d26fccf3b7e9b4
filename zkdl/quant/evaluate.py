"""Float vs quantized training on the same schedule: held-out accuracies of both (what the demo reports)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zkdl.errors import DatasetError
from zkdl.quant.data import Dataset, quantize_inputs, quantize_targets
from zkdl.quant.fixedpoint import FixedPointParams
from zkdl.quant.model import FloatModel, float_predict, quantize_model, train_float
from zkdl.quant.train import BatchSchedule, TrainingRun, accuracy_int, train_quantized


def accuracy_float(model: FloatModel, X: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose float output's argmax equals ``labels``."""
    return float(np.mean(np.argmax(float_predict(model, X), axis=1) == np.asarray(labels)))


@dataclass(frozen=True)
class Comparison:
    """Held-out accuracies before and after ``steps`` steps, float and quantized, and the quantized run."""

    widths: tuple[int, ...]
    batch_size: int
    steps: int
    lr_shift: int
    float_lr: float  #: the equivalent learning rate on the batch-mean loss, ``B·2^-s``
    float_acc_initial: float
    int_acc_initial: float
    float_acc: float
    int_acc: float
    float_seconds: float
    int_seconds: float
    run: TrainingRun

    @property
    def gap(self) -> float:
        """``float_acc − int_acc``."""
        return self.float_acc - self.int_acc


def compare_training(
    model: FloatModel,
    data: Dataset,
    params: FixedPointParams,
    *,
    batch_size: int,
    steps: int,
    schedule_seed: int | None = None,
    keep_traces: bool = False,
    loss: str = "mse",
) -> Comparison:
    """Train ``model`` ``steps`` steps in floats (torch, float64) and in the integer reference on the same batches
    of ``data``'s training split, with the same ``loss`` (``"mse"`` or ``"ce"``); report held-out accuracies of
    both."""
    if data.labels_test is None:
        raise DatasetError("accuracy needs class labels (a 1-D y)")
    sched = BatchSchedule(data.X_train.shape[0], batch_size, schedule_seed)
    Xq, Yq = quantize_inputs(data.X_train, params), quantize_targets(data.Y_train, params)
    Xq_test = quantize_inputs(data.X_test, params)
    q0 = quantize_model(model, params)
    t0 = time.perf_counter()
    run = train_quantized(q0, Xq, Yq, params, sched, steps, keep_traces=keep_traces, loss=loss)
    t1 = time.perf_counter()
    fmodel = train_float(model, data.X_train, data.Y_train, sched, steps, params, loss=loss)
    t2 = time.perf_counter()
    return Comparison(
        widths=tuple(model.widths),
        batch_size=batch_size,
        steps=steps,
        lr_shift=params.lr_shift,
        float_lr=params.float_learning_rate(batch_size),
        float_acc_initial=accuracy_float(model, data.X_test, data.labels_test),
        int_acc_initial=accuracy_int(q0, Xq_test, data.labels_test, params),
        float_acc=accuracy_float(fmodel, data.X_test, data.labels_test),
        int_acc=accuracy_int(run.final, Xq_test, data.labels_test, params),
        float_seconds=t2 - t1,
        int_seconds=t1 - t0,
        run=run,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m zkdl.quant.evaluate [--widths 64,32,10] [--batch 64] [--steps 200] [--lr-shift 8] [--seed 0]``."""
    import argparse

    from zkdl.quant.data import load_dataset
    from zkdl.quant.model import init_model

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--dataset", default="digits")
    p.add_argument("--widths", default="64,32,10")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, nargs="+", default=[200])
    p.add_argument("--lr-shift", type=int, default=8)
    p.add_argument("--frac-bits", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loss", choices=("mse", "ce"), default="mse")
    a = p.parse_args(argv)
    data = load_dataset(a.dataset, seed=a.seed)
    widths = [int(w) for w in a.widths.split(",")]
    params = FixedPointParams(frac_bits=a.frac_bits, lr_shift=a.lr_shift)
    model = init_model(widths, seed=a.seed)
    for T in a.steps:
        c = compare_training(model, data, params, batch_size=a.batch, steps=T, loss=a.loss)
        print(
            f"{a.dataset} {a.loss} {'-'.join(map(str, widths))} B={a.batch} T={T} s={a.lr_shift} (lr {c.float_lr:g}) "
            f"F={a.frac_bits}: float acc {c.float_acc:.4f}, quantized acc {c.int_acc:.4f} "
            f"(gap {c.gap:+.4f}; initial {c.float_acc_initial:.4f}/{c.int_acc_initial:.4f}); "
            f"int {c.int_seconds:.2f}s, float {c.float_seconds:.2f}s"
        )


if __name__ == "__main__":
    main()
