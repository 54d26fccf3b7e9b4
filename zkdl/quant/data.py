"""Datasets: a user's arrays or files (``.npz`` with ``X`` and ``y``; ``.npy`` / ``.csv`` with a target column), a
bundled scikit-learn dataset, a seeded train/test split, optional standardization, and fixed-point quantization.

The task is classification (a 1-D ``y`` of class labels, trained against one-hot targets with the MSE loss) or
regression (``y`` of shape ``(n,)`` or ``(n, k)``, trained as given). ``task="auto"`` infers it only when the labels
leave no doubt (bool labels; integer labels with at most :data:`MAX_INFERRED_CLASSES` distinct values; float labels
with at most :data:`MAX_INFERRED_FLOAT_CLASSES` distinct whole values; float values that are not all whole) and
refuses the rest with a hint (a float ``y`` with hundreds of distinct whole values is a count target as often as
it is a many-class problem).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zkdl.errors import DatasetError, QuantizationOverflow
from zkdl.quant.fixedpoint import FixedPointParams, quantize

#: scikit-learn datasets that ship with the library (no download).
BUNDLED = ("digits", "iris", "wine", "breast_cancer")
TASKS = ("auto", "classification", "regression")
MAX_INFERRED_CLASSES = 100
MAX_INFERRED_FLOAT_CLASSES = 20

_NPZ_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class Dataset:
    """A train/test split. ``X_*`` float64 ``n × d_0``; ``Y_*`` float64 targets ``n × d_L`` (one-hot for
    classification); ``labels_*`` int64 class labels or ``None`` for regression targets.

    ``preprocessing`` records what was done to the user's values (JSON-able: the scaling of the features and, for
    regression with standardization, of the targets, with statistics of the training split) so that predictions
    can be mapped back; ``source`` says where the data came from (``data_source``, ``data_sha256``)."""

    name: str
    X_train: np.ndarray
    Y_train: np.ndarray
    labels_train: np.ndarray | None
    X_test: np.ndarray
    Y_test: np.ndarray
    labels_test: np.ndarray | None
    n_classes: int | None
    feature_names: tuple[str, ...] | None = None
    preprocessing: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.Y_train.shape[1])

    @property
    def task(self) -> str:
        return "classification" if self.n_classes is not None else "regression"

    def targets_to_user_units(self, Y: np.ndarray) -> np.ndarray:
        """Undo the target standardization (regression), identity otherwise."""
        t = self.preprocessing.get("targets")
        if not t:
            return np.asarray(Y, dtype=np.float64)
        return np.asarray(Y, dtype=np.float64) * np.asarray(t["std"]) + np.asarray(t["mean"])


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError("labels must be a 1-D integer array")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise DatasetError(f"labels must lie in [0, {n_classes})")
    out = np.zeros((labels.shape[0], n_classes), dtype=np.float64)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


# ------------------------------------------------------------------------------------------------------ reading


def _check_file(path: str) -> None:
    if os.path.isdir(path):
        raise DatasetError(f"{path!r} is a directory; give a data file (.npz, .npy or .csv) or a bundled dataset name")
    if not os.path.isfile(path):
        raise DatasetError(f"dataset file {path!r} does not exist")


def _magic(path: str, n: int = 6) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _np_load(path: str, kind: str):
    """``np.load`` without pickles, its errors as one line that never suggests ``allow_pickle``."""
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise DatasetError(
                f"{path!r}: the {kind} holds Python objects (dtype object), which are not loaded; save numeric arrays"
            ) from None
        raise DatasetError(f"cannot read {path!r} as {kind}: {e}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise DatasetError(f"cannot read {path!r} as {kind}: {e}") from None


def load_npz(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read ``X`` and ``y`` of an ``.npz`` archive (unvalidated; :func:`load_dataset` validates)."""
    path = os.fspath(path)
    _check_file(path)
    if _magic(path, 4) != _NPZ_MAGIC:
        what = "a .npy array" if _magic(path) == _NPY_MAGIC else "not a numpy .npz archive (no zip signature)"
        raise DatasetError(f"{path!r} is {what}; save the data with np.savez(path, X=X, y=y)")
    z = _np_load(path, "an .npz archive")
    try:
        missing = [k for k in ("X", "y") if k not in z.files]
        if missing:
            raise DatasetError(f"{path!r} lacks array(s) {missing}; it has {sorted(z.files)}")
        try:
            return z["X"], z["y"]
        except ValueError as e:
            if "pickle" in str(e).lower():
                raise DatasetError(
                    f"{path!r}: X or y holds Python objects (dtype object), which are not loaded; save numeric arrays"
                ) from None
            raise DatasetError(f"cannot read {path!r}: {e}") from None
        except (OSError, EOFError, zipfile.BadZipFile) as e:
            raise DatasetError(f"cannot read {path!r}: {e}") from None
    finally:
        z.close()


def _target_index(target: str | int | None, names: list[str] | None, n_cols: int, path: str) -> int:
    if target is None:
        cols = f" (columns: {', '.join(names)})" if names else f" ({n_cols} columns, 0-based)"
        raise DatasetError(f"{path!r} holds one table: name its label column with --target COLUMN{cols}")
    t = str(target)
    if names and t in names:
        return names.index(t)
    try:
        j = int(t)
    except ValueError:
        avail = f"; columns: {', '.join(names)}" if names else " (the file has no header row; give a column index)"
        raise DatasetError(f"{path!r}: no column named {t!r}{avail}") from None
    if not -n_cols <= j < n_cols:
        raise DatasetError(f"{path!r}: target column {j} out of range for {n_cols} columns")
    return j % n_cols


def _split_target(M: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    return np.delete(M, j, axis=1), M[:, j]


def load_npy(path: str, target: str | int | None) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D ``.npy`` matrix whose column ``target`` holds the labels."""
    _check_file(path)
    if _magic(path) != _NPY_MAGIC:
        raise DatasetError(f"{path!r} is not a numpy .npy file (no .npy header)")
    M = _np_load(path, "a .npy array")
    if M.ndim != 2 or M.shape[1] < 2:
        raise DatasetError(
            f"{path!r}: a .npy file must hold one 2-D table (features and a label column), got shape "
            f"{M.shape}; for separate arrays use np.savez(path, X=X, y=y)"
        )
    X, y = _split_target(M, _target_index(target, None, M.shape[1], path))
    return X, y


def load_csv(path: str, target: str | int | None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...] | None]:
    """A comma-separated numeric table (an optional header row of column names); column ``target`` holds the
    labels. Returns ``(X, y, feature names or None)``."""
    _check_file(path)
    try:
        with open(path, encoding="utf-8-sig") as f:
            first = f.readline()
    except UnicodeDecodeError:
        raise DatasetError(f"{path!r} is not a text (UTF-8) CSV file") from None
    cells = [c.strip().strip('"') for c in first.rstrip("\r\n").split(",")]
    header = None
    try:
        [float(c) for c in cells]
    except ValueError:
        header = cells
    try:
        M = np.loadtxt(
            path, delimiter=",", skiprows=1 if header else 0, ndmin=2, dtype=np.float64, encoding="utf-8-sig"
        )
    except ValueError as e:
        raise DatasetError(f"{path!r}: every value below the header must be a number ({e})") from None
    if M.shape[0] == 0:
        raise DatasetError(f"{path!r} has no data rows")
    if M.shape[1] < 2:
        raise DatasetError(f"{path!r}: a CSV needs at least one feature column and a label column")
    if header is not None and len(header) != M.shape[1]:
        raise DatasetError(f"{path!r}: the header has {len(header)} names but the rows {M.shape[1]} values")
    j = _target_index(target, header, M.shape[1], path)
    X, y = _split_target(M, j)
    names = None if header is None else tuple(h for i, h in enumerate(header) if i != j)
    return X, y, names


def _to_numpy(a: Any, what: str) -> np.ndarray:
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # a torch tensor (no torch import needed)
        a = a.detach().cpu().numpy()
    try:
        return np.asarray(a)
    except (TypeError, ValueError) as e:
        raise DatasetError(f"{what} cannot be converted to a numpy array: {e}") from None


def _from_torch_dataset(obj: Any) -> tuple[np.ndarray, np.ndarray]:
    """All ``(x, y)`` items of a torch ``Dataset`` (or all batches of a ``DataLoader``), stacked."""
    is_loader = hasattr(obj, "dataset") and hasattr(obj, "batch_size")
    xs, ys = [], []
    items = iter(obj) if is_loader else (obj[i] for i in range(len(obj)))
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise DatasetError(
                f"data: each item of the {'DataLoader' if is_loader else 'Dataset'} must be a pair "
                f"(x, y), got {type(item).__name__}"
            )
        xs.append(_to_numpy(item[0], "x"))
        ys.append(_to_numpy(item[1], "y"))
    if not xs:
        raise DatasetError("data: the torch dataset is empty")
    if is_loader:
        return np.concatenate([x.reshape(x.shape[0], -1) for x in xs]), np.concatenate(ys)
    return np.stack([x.reshape(-1) for x in xs]), np.stack(ys)


def _looks_like_torch_data(obj: Any) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith("torch.utils.data") or any(
        (c.__module__ or "").startswith("torch.utils.data") for c in type(obj).__mro__[1:]
    )


DATA_ACCEPTS = (
    "a bundled dataset name (" + ", ".join(BUNDLED) + "), a path to an .npz/.npy/.csv file, a pair "
    "(X, y) of arrays or tensors, a dict {'X': ..., 'y': ...}, or a torch Dataset/DataLoader of "
    "(x, y) pairs"
)


def read_data(source: Any, *, target: str | int | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(X, y, info)`` from any accepted source (:data:`DATA_ACCEPTS`); ``info`` holds ``name``,
    ``data_source``, ``data_sha256`` (of the file, or of the arrays' bytes) and ``feature_names``."""
    info: dict[str, Any] = {"feature_names": None}
    if isinstance(source, str | os.PathLike):
        s = os.fspath(source)
        if s in BUNDLED:
            X, y = _bundled(s)
            info.update(name=s, data_source=f"bundled:{s}", data_sha256=_arrays_sha256(X, y))
            return X, y, info
        ext = os.path.splitext(s)[1].lower()
        if ext not in (".npz", ".npy", ".csv") and not os.path.exists(s):
            raise DatasetError(f"unknown dataset {s!r}: give an .npz/.npy/.csv path or one of {', '.join(BUNDLED)}")
        if target is not None and ext == ".npz":
            raise DatasetError(f"{s!r}: --target applies to .csv and .npy tables; an .npz holds X and y already")
        if ext == ".csv":
            X, y, names = load_csv(s, target)
            info["feature_names"] = names
        elif ext == ".npy":
            X, y = load_npy(s, target)
        elif ext == ".npz" or (os.path.isfile(s) and _magic(s, 4) == _NPZ_MAGIC):
            X, y = load_npz(s)
        else:
            _check_file(s)
            raise DatasetError(f"{s!r}: unknown data file type; use .npz (X and y), .npy or .csv (with --target)")
        info.update(name=os.path.basename(s), data_source=os.path.abspath(s), data_sha256=file_sha256(s))
        return X, y, info
    if isinstance(source, dict):
        missing = [k for k in ("X", "y") if k not in source]
        if missing:
            raise DatasetError(f"data: the dict lacks key(s) {missing}; it has {sorted(map(str, source))}")
        X, y = _to_numpy(source["X"], "data['X']"), _to_numpy(source["y"], "data['y']")
    elif isinstance(source, tuple | list):
        if len(source) != 2:
            raise DatasetError(f"data: a sequence must be the pair (X, y), got {len(source)} items")
        X, y = _to_numpy(source[0], "X"), _to_numpy(source[1], "y")
    elif _looks_like_torch_data(source):
        X, y = _from_torch_dataset(source)
    else:
        raise DatasetError(f"data must be {DATA_ACCEPTS}; got {type(source).__name__}")
    info.update(name="arrays", data_source=f"in-memory {type(source).__name__}", data_sha256=_arrays_sha256(X, y))
    return X, y, info


def _arrays_sha256(X: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in (X, y):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        if a.dtype != object:
            h.update(a.tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------------ validating


def _numeric(a: np.ndarray) -> bool:
    return np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating) or a.dtype == np.bool_


def infer_task(y: np.ndarray, where: str = "y") -> str:
    """``"classification"`` or ``"regression"`` when ``y`` leaves no doubt; :class:`DatasetError` with a hint
    otherwise."""
    if y.ndim == 2:
        return "regression"
    if y.dtype == np.bool_:
        return "classification"
    n_distinct = np.unique(y).size
    hint = "pass --task classification or --task regression (API: task=...)"
    if np.issubdtype(y.dtype, np.integer):
        if n_distinct <= MAX_INFERRED_CLASSES:
            return "classification"
        raise DatasetError(
            f"{where}: integer y with {n_distinct} distinct values is ambiguous (class labels or a "
            f"count target?); {hint}"
        )
    if not np.all(y == np.round(y)):
        return "regression"
    if n_distinct <= MAX_INFERRED_FLOAT_CLASSES:
        return "classification"
    raise DatasetError(
        f"{where}: float y with {n_distinct} distinct whole values is ambiguous (class labels or a "
        f"regression target?); {hint}"
    )


def validate(X: np.ndarray, y: np.ndarray, where: str, task: str = "auto") -> tuple[np.ndarray, np.ndarray, str]:
    """Check shapes, dtypes and values; returns ``(X float64, y, task)`` with ``y`` int64 labels (classification)
    or float64 targets of shape ``(n, k)`` (regression)."""
    if task not in TASKS:
        raise DatasetError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if X.ndim != 2 or 0 in X.shape:
        raise DatasetError(f"{where}: X must be a non-empty 2-D array (rows × features), got shape {X.shape}")
    if not _numeric(X):
        raise DatasetError(f"{where}: X must be numeric (integer or float), got dtype {X.dtype}")
    Xf = X.astype(np.float64)
    if not np.all(np.isfinite(Xf)):
        raise DatasetError(f"{where}: X contains NaN or infinity")
    if y.ndim == 2 and y.shape[1] == 1 and task != "regression" and y.shape[0] == X.shape[0]:
        y = y[:, 0] if task == "classification" or infer_task(y[:, 0], where) == "classification" else y
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise DatasetError(f"{where}: y must be 1-D labels or 2-D targets with {X.shape[0]} rows, got shape {y.shape}")
    if not _numeric(y):
        raise DatasetError(f"{where}: y must be numeric, got dtype {y.dtype}")
    if y.ndim == 2 and y.shape[1] == 0:
        raise DatasetError(f"{where}: 2-D y needs at least one target column")
    if not np.all(np.isfinite(y.astype(np.float64))):
        raise DatasetError(f"{where}: y contains NaN or infinity")
    if task == "auto":
        task = infer_task(y, where)
    if task == "regression":
        yf = y.astype(np.float64)
        return Xf, (yf[:, None] if yf.ndim == 1 else yf), task
    if y.ndim != 1:
        raise DatasetError(f"{where}: classification needs 1-D class labels, got y of shape {y.shape}")
    if np.issubdtype(y.dtype, np.floating) and not np.all(y == np.round(y)):
        raise DatasetError(f"{where}: 1-D y must hold integer class labels for classification")
    yi = y.astype(np.int64)
    if yi.min() < 0:
        raise DatasetError(f"{where}: class labels must be non-negative, found {int(yi.min())}")
    return Xf, yi, task


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
    source: Any = "digits",
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    scale: str | None = "auto",
    task: str = "auto",
    target: str | int | None = None,
    standardize: bool = False,
) -> Dataset:
    """A dataset from any accepted source (:data:`DATA_ACCEPTS`), split seeded into train and test (stratified
    for class labels).

    ``scale``: ``"auto"`` divides digits by 16 (features in [0, 1]), min-max scales the other bundled datasets to
    [0, 1] with the training split's minimum and maximum, and leaves user data unchanged; ``"minmax"`` forces
    min-max scaling; ``None`` leaves features unchanged. ``standardize=True`` instead subtracts the training
    split's mean and divides by its standard deviation, per feature (and per target for regression); the
    statistics are in ``Dataset.preprocessing``."""
    if scale not in ("auto", "minmax", None):
        raise DatasetError(f"scale must be 'auto', 'minmax' or None, got {scale!r}")
    if not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"test_fraction must be in (0, 1), got {test_fraction}")
    X, y, info = read_data(source, target=target)
    name = info["name"]
    bundled = isinstance(source, str) and source in BUNDLED
    if bundled and task == "regression":
        raise DatasetError(f"{name} is a classification dataset; --task regression does not apply")
    X, y, task = validate(X, y, name, task)
    n = X.shape[0]
    n_test = int(np.ceil(test_fraction * n))
    if n_test < 1 or n - n_test < 1:
        raise DatasetError(f"{name}: {n} rows cannot be split into non-empty train and test parts")
    classification = task == "classification"
    n_classes = int(y.max()) + 1 if classification else None
    from sklearn.model_selection import train_test_split

    stratify = None
    if classification:
        counts = np.bincount(y)
        present = counts[counts > 0]
        if present.min() >= 2 and n_test >= present.size and n - n_test >= present.size:
            stratify = y
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=n_test, random_state=seed, stratify=stratify)
    pre: dict[str, Any] = {}
    if standardize:
        mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        X_tr, X_te = (X_tr - mean) / std, (X_te - mean) / std
        pre["features"] = {"method": "standardize", "mean": mean.tolist(), "std": std.tolist()}
        if not classification:
            tm, ts = y_tr.mean(axis=0), y_tr.std(axis=0)
            ts = np.where(ts > 0, ts, 1.0)
            y_tr, y_te = (y_tr - tm) / ts, (y_te - tm) / ts
            pre["targets"] = {"method": "standardize", "mean": tm.tolist(), "std": ts.tolist()}
    elif scale == "minmax" or (scale == "auto" and bundled and source != "digits"):
        lo, hi = X_tr.min(axis=0), X_tr.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        X_tr, X_te = (X_tr - lo) / span, (X_te - lo) / span
        pre["features"] = {"method": "minmax", "min": lo.tolist(), "span": span.tolist()}
    elif scale == "auto" and source == "digits":
        X_tr, X_te = X_tr / 16.0, X_te / 16.0
        pre["features"] = {"method": "divide", "by": 16.0}
    src = {k: info[k] for k in ("data_source", "data_sha256")}
    names = info["feature_names"]
    if classification:
        assert n_classes is not None
        return Dataset(
            name, X_tr, one_hot(y_tr, n_classes), y_tr, X_te, one_hot(y_te, n_classes), y_te, n_classes, names, pre, src
        )
    return Dataset(name, X_tr, y_tr, None, X_te, y_te, None, None, names, pre, src)


# ------------------------------------------------------------------------------------------------------ quantizing


def _range_overflow(A: np.ndarray, params: FixedPointParams, role: str, what: str, names, fix: str) -> None:
    r = params.range_of(role)
    lo, hi = r.lo / params.scale, r.hi / params.scale
    bad = (A < lo) | (A >= hi) | ~np.isfinite(A)
    if not bad.any():
        return
    row, col = (int(i) for i in np.argwhere(bad)[0])
    label = f"{what} {col}" + (f" ({names[col]!r})" if names is not None and col < len(names) else "")
    err = QuantizationOverflow(
        f"{label} has value {A[row, col]:g} (row {row}), outside the range [{lo:g}, {hi:g}) that {role} allows "
        f"with {params.frac_bits} fractional bits; {fix}"
    )
    err.tensor, err.layer, err.step, err.index = role, None, None, (row, col)
    raise err


def quantize_inputs(X: np.ndarray, params: FixedPointParams, feature_names=None) -> np.ndarray:
    """Features at scale 2^F (int64), range-checked against the declared input range; an out-of-range feature is
    named with its value in the user's units and the flag that fixes it."""
    _range_overflow(
        np.asarray(X, dtype=np.float64),
        params,
        "X",
        "feature",
        feature_names,
        "pass --standardize (API: standardize=True)",
    )
    return quantize(X, params.frac_bits, rng=params.range_of("X"), tensor="X")


def quantize_targets(Y: np.ndarray, params: FixedPointParams) -> np.ndarray:
    """Targets (one-hot labels) at scale 2^F (int64), range-checked against the declared label range."""
    _range_overflow(
        np.asarray(Y, dtype=np.float64),
        params,
        "Y",
        "target column",
        None,
        "pass --standardize (API: standardize=True), which also standardizes regression targets",
    )
    return quantize(Y, params.frac_bits, rng=params.range_of("Y"), tensor="Y")
