"""The project's own ``evaluate`` metric modules, loaded by path so nothing needs the Hub.

``evaluate.load("accuracy")`` downloads its script from the Hub; these scripts ship inside the package
instead (one ``<name>.py`` per metric in this folder) and load offline with ``load_metric(name)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

METRICS_DIR = Path(__file__).resolve().parent
DEFAULT_METRIC = "asl_classification"


def available_metrics() -> list[str]:
    """Names of the metric scripts shipped in this folder."""
    return sorted(p.stem for p in METRICS_DIR.glob("*.py") if not p.name.startswith("_"))


def metric_path(name: str = DEFAULT_METRIC) -> Path:
    """The script ``evaluate.load`` takes for ``name`` (a ``.py`` path works offline, no Hub lookup)."""
    path = METRICS_DIR / f"{name}.py"
    if name.startswith("_") or not path.is_file():
        raise ValueError(f"unknown metric {name!r}; available: {available_metrics()}")
    return path


def load_metric(name: str = DEFAULT_METRIC, **kwargs):
    """``evaluate.load`` of a shipped metric. Keeps inputs in memory (no cache files) unless running
    evaluate's own multi-process mode (``num_process > 1``), which needs its file cache."""
    import evaluate

    if not hasattr(evaluate, "load"):  # e.g. a script named evaluate.py next to the running script
        raise ImportError(f"'import evaluate' found {getattr(evaluate, '__file__', evaluate)}, not the evaluate library; rename that file")
    kwargs.setdefault("keep_in_memory", kwargs.get("num_process", 1) == 1)
    return evaluate.load(str(metric_path(name)), **kwargs)


def _as_ids(values, what: str) -> list[int]:
    """Lists, numpy arrays and (CPU) tensors of label ids as a plain list; logits are refused, not flattened."""
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{what} must be a 1-D sequence of integer label ids, got shape {array.shape} dtype {array.dtype}")
    return array.tolist()


def compute_classification_metrics(
    predictions: Sequence[int], references: Sequence[int], label_names: Sequence[str], confidences: Sequence[float] | None = None,
) -> dict:
    """Accuracy, macro-F1, ``per_class`` ``{label: {precision, recall, f1, support}}`` for every label id and the
    confusion matrix (list of lists, rows = true label), from whole-split predictions and references; with each
    prediction's probability (``confidences``), the ``expected_calibration_error`` too."""
    predictions, references = _as_ids(predictions, "predictions"), _as_ids(references, "references")
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise ValueError("no predictions to score (the evaluated split is empty)")
    metric = load_metric(DEFAULT_METRIC)
    extra = {} if confidences is None else {"confidences": [float(c) for c in confidences]}
    return metric.compute(predictions=predictions, references=references, label_names=list(label_names), **extra)


__all__ = ["DEFAULT_METRIC", "METRICS_DIR", "available_metrics", "compute_classification_metrics", "load_metric", "metric_path"]
