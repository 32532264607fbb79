"""The report files of an evaluation: results JSON, per-class tables and confusion matrices.

One writer for training (validation and test at the end of a run) and for ``scripts/evaluate_model.py`` (any folder),
so a model folder looks the same whichever wrote its numbers; the model cards and the Space read these files.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path


PER_CLASS_FILE = "per_class_metrics.json"
EVAL_RESULTS_FILE = "eval_results.json"
ALL_RESULTS_FILE = "all_results.json"
EVAL_PREFIXES = ("eval_", "test_")
"""Keys that ``eval_results.json`` holds; ``all_results.json`` holds everything (as transformers' Trainer does)."""


def _merge_json(path: Path, update: Mapping) -> dict:
    """Read ``path`` (if any), update it with ``update`` and write it back; returns the merged content."""
    merged = json.loads(path.read_text()) if path.is_file() else {}
    merged.update(update)
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return merged


def save_confusion_matrix(
    matrix: Sequence[Sequence[int]],
    label_names: Sequence[str],
    path_png: str | os.PathLike,
    title: str = "Confusion matrix",
) -> Path:
    """Draw the confusion matrix as a PNG (plus ``<same name>.json`` with the raw counts and labels).

    Cells are coloured by the row-normalised rate (share of each true class), so classes with different
    image counts compare at a glance, and non-zero cells carry their count. Sized for 29 readable labels.
    Uses matplotlib's object API with the Agg canvas: no pyplot global state, no display needed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [str(name) for name in label_names]
    counts = [[int(value) for value in row] for row in matrix]
    n = len(labels)
    if n == 0 or len(counts) != n or any(len(row) != n for row in counts):
        raise ValueError(f"confusion matrix must be {n}x{n} to match {n} labels, got {len(counts)} rows")
    rates = [[value / max(1, sum(row)) for value in row] for row in counts]

    path_png = Path(path_png)
    path_png.parent.mkdir(parents=True, exist_ok=True)
    side = max(5.0, 0.42 * n + 2.5)
    figure = Figure(figsize=(side + 1.2, side), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    colorbar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    colorbar.set_label("share of the true class")
    font_size = max(6.0, min(11.0, 260.0 / n))
    for row in range(n):
        for column in range(n):
            if counts[row][column]:
                colour = "white" if rates[row][column] > 0.5 else "black"
                axes.text(column, row, str(counts[row][column]), ha="center", va="center", fontsize=font_size, color=colour)
    axes.set_xticks(range(n), labels, rotation=90, fontsize=font_size + 1)
    axes.set_yticks(range(n), labels, fontsize=font_size + 1)
    axes.set_xlabel("Predicted label")
    axes.set_ylabel("True label")
    total = sum(map(sum, counts))
    correct = sum(counts[i][i] for i in range(n))
    axes.set_title(f"{title}\n{correct}/{total} correct" if total else title)
    figure.tight_layout()
    figure.savefig(path_png)

    rows = ",\n".join(f"    {json.dumps(row)}" for row in counts)  # one matrix row per line: readable and diffable
    path_png.with_suffix(".json").write_text(
        f'{{\n  "labels": {json.dumps(labels)},\n  "rows": "true label",\n  "columns": "predicted label",\n'
        f'  "matrix": [\n{rows}\n  ]\n}}\n'
    )
    return path_png


def _cell(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def format_per_class_table(per_class: Mapping[str, Mapping[str, float]]) -> str:
    """A markdown table (one row per class, in the given order); classes without images are marked."""
    lines = ["| Class | Precision | Recall | F1 | Support |", "|:--|--:|--:|--:|--:|"]
    for name, row in per_class.items():
        support = int(row["support"])
        note = " (no images)" if support == 0 else ""
        lines.append(f"| {name} | {_cell(row['precision'])} | {_cell(row['recall'])} | {_cell(row['f1'])} | {support}{note} |")
    return "\n".join(lines) + "\n"


def no_hand_counts(hand_found: Sequence[bool] | None) -> dict:
    """``{"no_hand_found": count, "no_hand_found_fraction": share}`` of photos where a landmark model found no hand
    (they get ``no_hand_label``, so they are wrong for every letter); ``{}`` for pixel models (``hand_found`` None),
    which never look for a hand."""
    if hand_found is None:
        return {}
    missed = sum(not found for found in hand_found)
    return {"no_hand_found": missed, "no_hand_found_fraction": missed / len(hand_found) if len(hand_found) else 0.0}


def write_split_report(
    output_dir: str | os.PathLike, split_name: str, metrics: Mapping, prefix: str, hand_found: Sequence[bool] | None = None,
    per_source: Mapping | None = None,
) -> dict:
    """Write one split's per-class scores (merged into ``per_class_metrics.json`` under ``split_name``) and its
    confusion matrix (``confusion_matrix_<split>.png`` + ``.json``); return the flat results for that split,
    e.g. ``{"eval_accuracy": .., "eval_macro_f1": .., "eval_samples": ..}`` for prefix ``"eval"``, plus
    ``eval_expected_calibration_error`` when the metrics have it, ``eval_no_hand_found`` and
    ``eval_no_hand_found_fraction`` when ``hand_found`` is given (landmark models), and ``eval_per_source``
    (``{source: {"accuracy", "images"}}``) when the split came from several sources."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    per_class = metrics["per_class"]
    _merge_json(output_dir / PER_CLASS_FILE, {split_name: per_class})
    save_confusion_matrix(
        metrics["confusion_matrix"], list(per_class), output_dir / f"confusion_matrix_{split_name}.png", f"Confusion matrix ({split_name})"
    )
    results = {
        f"{prefix}_accuracy": metrics["accuracy"],
        f"{prefix}_macro_f1": metrics["macro_f1"],
        f"{prefix}_samples": sum(int(row["support"]) for row in per_class.values()),
        **{f"{prefix}_{key}": value for key, value in no_hand_counts(hand_found).items()},
    }
    if metrics.get("expected_calibration_error") is not None:
        results[f"{prefix}_expected_calibration_error"] = metrics["expected_calibration_error"]
    if per_source:
        results[f"{prefix}_per_source"] = dict(per_source)
    return results


def write_results_json(output_dir: str | os.PathLike, results: Mapping) -> None:
    """Merge ``results`` into ``all_results.json`` (every key) and ``eval_results.json`` (``eval_*``/``test_*`` keys),
    like transformers' ``Trainer.save_metrics``: earlier keys survive, new values win."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    _merge_json(output_dir / ALL_RESULTS_FILE, results)
    _merge_json(output_dir / EVAL_RESULTS_FILE, {k: v for k, v in results.items() if k.startswith(EVAL_PREFIXES)})
