"""Datasets: a user's ``.npz`` (arrays ``X`` and ``y``) or a bundled scikit-learn dataset, a seeded train/test split,
and their fixed-point quantization.

Labels: a 1-D integer ``y`` is a class label per row and becomes one-hot targets for the MSE loss; a 2-D ``y`` is
used as regression targets as given (no accuracy is defined then).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from zkdl.errors import DatasetError
from zkdl.quant.fixedpoint import FixedPointParams, quantize

#: scikit-learn datasets that ship with the library (no download).
BUNDLED = ("digits", "iris", "wine", "breast_cancer")


@dataclass(frozen=True)
class Dataset:
    """A train/test split. ``X_*`` float64 ``n × d_0``; ``Y_*`` float64 targets ``n × d_L`` (one-hot for
    classification); ``labels_*`` int64 class labels or ``None`` for regression targets."""

    name: str
    X_train: np.ndarray
    Y_train: np.ndarray
    labels_train: np.ndarray | None
    X_test: np.ndarray
    Y_test: np.ndarray
    labels_test: np.ndarray | None
    n_classes: int | None

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.Y_train.shape[1])


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError("labels must be a 1-D integer array")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise DatasetError(f"labels must lie in [0, {n_classes})")
    out = np.zeros((labels.shape[0], n_classes), dtype=np.float64)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def load_npz(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate ``X`` (2-D, numeric, finite) and ``y`` (1-D non-negative integer labels, or 2-D finite
    targets) with the same number of rows. Returns ``(X float64, y)`` with ``y`` int64 labels or float64 targets."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DatasetError(f"dataset file {path!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise DatasetError(f"{path!r} is a .npy array, not an .npz archive with arrays X and y")
            missing = [k for k in ("X", "y") if k not in z.files]
            if missing:
                raise DatasetError(f"{path!r} lacks array(s) {missing}; it has {sorted(z.files)}")
            X, y = z["X"], z["y"]
    except DatasetError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise DatasetError(f"cannot read {path!r} as an .npz archive: {e}") from None
    return _validate(X, y, path)


def _validate(X: np.ndarray, y: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    def numeric(a: np.ndarray) -> bool:
        return np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)

    if X.ndim != 2 or 0 in X.shape:
        raise DatasetError(f"{where}: X must be a non-empty 2-D array (rows × features), got shape {X.shape}")
    if not numeric(X):
        raise DatasetError(f"{where}: X must be numeric (integer or float), got dtype {X.dtype}")
    Xf = X.astype(np.float64)
    if not np.all(np.isfinite(Xf)):
        raise DatasetError(f"{where}: X contains NaN or infinity")
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise DatasetError(f"{where}: y must be 1-D labels or 2-D targets with {X.shape[0]} rows, got shape {y.shape}")
    if not numeric(y):
        raise DatasetError(f"{where}: y must be numeric, got dtype {y.dtype}")
    if y.ndim == 2:
        if y.shape[1] == 0:
            raise DatasetError(f"{where}: 2-D y needs at least one target column")
        yf = y.astype(np.float64)
        if not np.all(np.isfinite(yf)):
            raise DatasetError(f"{where}: y contains NaN or infinity")
        return Xf, yf
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DatasetError(f"{where}: 1-D y must hold integer class labels")
    yi = y.astype(np.int64)
    if yi.min() < 0:
        raise DatasetError(f"{where}: class labels must be non-negative, found {int(yi.min())}")
    return Xf, yi


def _bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader = {
        "digits": datasets.load_digits,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
    }[name]
    d = loader()
    return np.asarray(d.data, dtype=np.float64), np.asarray(d.target, dtype=np.int64)


def load_dataset(
    source: str | os.PathLike[str] = "digits",
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    scale: str | None = "auto",
) -> Dataset:
    """A bundled dataset by name (:data:`BUNDLED`, ``digits`` by default) or an ``.npz`` path, split seeded into
    train and test (stratified for class labels).

    ``scale``: ``"auto"`` divides digits by 16 (features in [0, 1]), min-max scales the other bundled datasets to
    [0, 1] with the training split's minimum and maximum, and leaves ``.npz`` data unchanged; ``"minmax"`` forces
    min-max scaling; ``None`` leaves features unchanged."""
    from sklearn.model_selection import train_test_split

    s = os.fspath(source)
    if s in BUNDLED:
        name = s
        X, y = _bundled(s)
    elif s.endswith(".npz") or os.path.exists(s):
        name = os.path.basename(s)
        X, y = load_npz(s)
    else:
        raise DatasetError(f"unknown dataset {s!r}: give an .npz path or one of {', '.join(BUNDLED)}")
    if scale not in ("auto", "minmax", None):
        raise DatasetError(f"scale must be 'auto', 'minmax' or None, got {scale!r}")
    if not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n = X.shape[0]
    n_test = int(np.ceil(test_fraction * n))
    if n_test < 1 or n - n_test < 1:
        raise DatasetError(f"{name}: {n} rows cannot be split into non-empty train and test parts")
    classification = y.ndim == 1
    n_classes = int(y.max()) + 1 if classification else None
    stratify = None
    if classification:
        counts = np.bincount(y)
        present = counts[counts > 0]
        if present.min() >= 2 and n_test >= present.size and n - n_test >= present.size:
            stratify = y
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=n_test, random_state=seed, stratify=stratify)
    if scale == "minmax" or (scale == "auto" and s in BUNDLED and s != "digits"):
        lo, hi = X_tr.min(axis=0), X_tr.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        X_tr, X_te = (X_tr - lo) / span, (X_te - lo) / span
    elif scale == "auto" and s == "digits":
        X_tr, X_te = X_tr / 16.0, X_te / 16.0
    if classification:
        assert n_classes is not None
        return Dataset(name, X_tr, one_hot(y_tr, n_classes), y_tr, X_te, one_hot(y_te, n_classes), y_te, n_classes)
    return Dataset(name, X_tr, y_tr, None, X_te, y_te, None, None)


def quantize_inputs(X: np.ndarray, params: FixedPointParams) -> np.ndarray:
    """Features at scale 2^F (int64), range-checked against the declared input range."""
    return quantize(X, params.frac_bits, rng=params.range_of("X"), tensor="X")


def quantize_targets(Y: np.ndarray, params: FixedPointParams) -> np.ndarray:
    """Targets (one-hot labels) at scale 2^F (int64), range-checked against the declared label range."""
    return quantize(Y, params.frac_bits, rng=params.range_of("Y"), tensor="Y")
