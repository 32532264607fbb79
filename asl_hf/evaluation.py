"""Evaluation: score a saved model on labelled images, and write the reports training writes too.

One report writer (JSON results, per-class tables, confusion matrices) for training and ``scripts/evaluate_model.py``,
so a model folder looks the same whether its numbers came from the end of training or from a later evaluation
on another image folder. Images are classified through :mod:`asl_hf.inference`, the path users call.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .errors import DataError
from .metrics import compute_classification_metrics, load_metric

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
    output_dir: str | os.PathLike, split_name: str, metrics: Mapping, prefix: str, hand_found: Sequence[bool] | None = None
) -> dict:
    """Write one split's per-class scores (merged into ``per_class_metrics.json`` under ``split_name``) and its
    confusion matrix (``confusion_matrix_<split>.png`` + ``.json``); return the flat results for that split,
    e.g. ``{"eval_accuracy": .., "eval_macro_f1": .., "eval_samples": ..}`` for prefix ``"eval"``, plus
    ``eval_no_hand_found`` and ``eval_no_hand_found_fraction`` when ``hand_found`` is given (landmark models)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    per_class = metrics["per_class"]
    _merge_json(output_dir / PER_CLASS_FILE, {split_name: per_class})
    save_confusion_matrix(
        metrics["confusion_matrix"], list(per_class), output_dir / f"confusion_matrix_{split_name}.png", f"Confusion matrix ({split_name})"
    )
    return {
        f"{prefix}_accuracy": metrics["accuracy"],
        f"{prefix}_macro_f1": metrics["macro_f1"],
        f"{prefix}_samples": sum(int(row["support"]) for row in per_class.values()),
        **{f"{prefix}_{key}": value for key, value in no_hand_counts(hand_found).items()},
    }


def write_results_json(output_dir: str | os.PathLike, results: Mapping) -> None:
    """Merge ``results`` into ``all_results.json`` (every key) and ``eval_results.json`` (``eval_*``/``test_*`` keys),
    like transformers' ``Trainer.save_metrics``: earlier keys survive, new values win."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    _merge_json(output_dir / ALL_RESULTS_FILE, results)
    _merge_json(output_dir / EVAL_RESULTS_FILE, {k: v for k, v in results.items() if k.startswith(EVAL_PREFIXES)})


# ---------------------------------------------------------------------------------------------------------------
# Scoring a classifier on labelled images (a raw class folder or a prepared data set split)


@dataclass
class LabelledImages:
    """Images to evaluate: a name for the reports, one identifier and one true label name per image, and a
    way to decode them batch by batch (so a large folder never sits in memory)."""

    name: str
    source: str
    identifiers: list[str]
    labels: list[str]
    load_batch: object
    """``callable(start, stop) -> list[PIL.Image]``."""
    skipped: list[str] = field(default_factory=list)
    """One line per file left out (unreadable, not an image...), as ``path: kind: detail``."""

    def batches(self, batch_size: int) -> Iterator[list[Image.Image]]:
        for start in range(0, len(self.identifiers), batch_size):
            yield self.load_batch(start, min(start + batch_size, len(self.identifiers)))


def report_name(text: str) -> str:
    """A file-name-safe split name (``confusion_matrix_<name>.png``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "images"


def _open_image(path: str) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image


def folder_images(
    root: str | os.PathLike, known_labels: Sequence[str], strict: bool = False, num_proc: int | None = None, show_progress: bool = True
) -> LabelledImages:
    """``root/<CLASS>/<images>``: any subset of ``known_labels`` as class folders; bad files are skipped and listed.
    A folder without class folders is read as ``root/<CLASS>_<name>.<ext>`` (the public test folder's layout), and a
    download-style ``root/<same name>/...`` from its inner folder (:func:`asl_hf.data.resolve_nested_root`).

    A class the model does not know is an error (its images could only ever count as wrong)."""
    from .data import resolve_nested_root, scan_image_folder

    root_path = resolve_nested_root(root)
    if not root_path.is_dir():
        raise DataError(f"{root}: not a folder (expected <root>/<CLASS>/<image files>)")
    class_dirs = sorted(p.name for p in root_path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs and any(p.is_file() and not p.name.startswith(".") for p in root_path.iterdir()):
        return _flat_folder_images(root_path, known_labels)
    unknown = [name for name in class_dirs if name not in set(known_labels)]
    if unknown:
        raise DataError(f"{root}: class folders {unknown} are not classes of the model (it knows {', '.join(known_labels)})")
    # min_images_per_class=1: evaluation needs no stratification, a class with one image is still scored.
    report = scan_image_folder(root_path, strict=strict, num_proc=num_proc, min_images_per_class=1, show_progress=show_progress)
    paths = [image.path for image in report.images]
    return LabelledImages(
        name=report_name(root_path.resolve().name),
        source=str(root_path),
        identifiers=paths,
        labels=[image.label for image in report.images],
        load_batch=lambda start, stop: [_open_image(path) for path in paths[start:stop]],
        skipped=[str(problem) for problem in report.skipped],
    )


def _flat_folder_images(root_path: Path, known_labels: Sequence[str]) -> LabelledImages:
    """``root/<CLASS>_<anything>.<ext>``, no class folders: the layout of the public ``asl_alphabet_test`` folder."""
    from .data.scan import check_image_file

    files = sorted(p for p in root_path.iterdir() if p.is_file() and not p.name.startswith("."))
    unknown = sorted({p.stem.split("_")[0] for p in files} - set(known_labels))
    if unknown:
        raise DataError(
            f"{root_path}: no class folders, and file name prefixes {unknown} are not classes of the model "
            "(expected <root>/<CLASS>/<images> or <root>/<CLASS>_<name>.jpg)"
        )
    paths, skipped = [], []
    for path in files:
        kind, detail, _ = check_image_file(str(path))
        if kind is None:
            paths.append(str(path))
        else:
            skipped.append(f"{path}: {kind}: {detail}")
    if not paths:
        raise DataError(f"{root_path}: no usable images ({len(skipped)} files skipped, first: {skipped[0]})")
    return LabelledImages(
        name=report_name(root_path.resolve().name),
        source=str(root_path),
        identifiers=paths,
        labels=[Path(path).stem.split("_")[0] for path in paths],
        load_batch=lambda start, stop: [_open_image(path) for path in paths[start:stop]],
        skipped=skipped,
    )


def dataset_split_images(dataset_dir: str | os.PathLike, split: str, known_labels: Sequence[str]) -> LabelledImages:
    """One split of a data set saved by ``prepare_data.py`` (images already checked when it was prepared)."""
    from .data import load_prepared_dataset
    from .data.loading import file_names

    splits = load_prepared_dataset(dataset_dir)
    if split not in splits:
        raise DataError(f"{dataset_dir}: no split {split!r} (it has {', '.join(splits)})")
    dataset = splits[split]
    if len(dataset) == 0:
        raise DataError(f"{dataset_dir}[{split}]: the split is empty")
    names = dataset.features["label"].names
    labels = [names[i] for i in dataset["label"]]
    unknown = sorted(set(labels) - set(known_labels), key=names.index)
    if unknown:
        raise DataError(f"{dataset_dir}[{split}]: classes {unknown} are not classes of the model (it knows {', '.join(known_labels)})")
    return LabelledImages(
        name=report_name(split),
        source=f"{dataset_dir}[{split}]",
        identifiers=file_names(dataset),
        labels=labels,
        load_batch=lambda start, stop: dataset[start:stop]["image"],
    )


@dataclass
class EvaluationResult:
    metrics: dict
    """``compute_classification_metrics`` output over all the model's labels."""
    predictions: list[int]
    scores: list[float]
    """Probability of each predicted label."""
    missing_classes: list[str]
    """Model classes without a single image in the evaluated data."""
    hand_found: list[bool] | None = None
    """Per image, for landmark models: whether MediaPipe found a hand; None for pixel models."""
    no_hand_label: str | None = None
    """The class a landmark model answers for a photo without a hand."""

    @property
    def no_hand(self) -> dict:
        """:func:`no_hand_counts` of this evaluation (``{}`` for pixel models)."""
        return no_hand_counts(self.hand_found)


def evaluate_classifier(classifier, images: LabelledImages, batch_size: int = 32, show_progress: bool = True) -> EvaluationResult:
    """Classify every image (batched, through ``classifier.classify``) and score against the true labels; photos where
    a landmark model found no hand stay in, scored as the model's answer (``no_hand_label``)."""
    from tqdm.auto import tqdm

    label2id = classifier.label2id
    references = [label2id[label] for label in images.labels]
    predictions: list[int] = []
    scores: list[float] = []
    hand_found: list[bool] | None = [] if classifier.detects_hands else None
    with tqdm(total=len(references), desc="Evaluating", unit="img", disable=not show_progress) as progress:
        for batch in images.batches(batch_size):
            probabilities, found = classifier.classify(batch)
            predictions += probabilities.argmax(-1).tolist()
            scores += probabilities.max(-1).tolist()
            if hand_found is not None:
                hand_found += found.tolist()
            progress.update(len(batch))
    metrics = compute_classification_metrics(predictions, references, classifier.labels)
    present = set(images.labels)
    missing = [name for name in classifier.labels if name not in present]
    return EvaluationResult(metrics, predictions, scores, missing, hand_found, classifier.no_hand_label)


def shown_classes(metrics: Mapping) -> dict:
    """Per-class rows worth printing: classes with images, and classes the model predicted at least once."""
    matrix = metrics["confusion_matrix"]
    return {
        name: row
        for column, (name, row) in enumerate(metrics["per_class"].items())
        if row["support"] or any(matrix_row[column] for matrix_row in matrix)
    }


def write_evaluation(output_dir: str | os.PathLike, model: str, images: LabelledImages, result: EvaluationResult, labels: Sequence[str]) -> dict:
    """Write the evaluation of ``model`` on ``images`` into ``output_dir``; returns the flat ``eval_*`` results.

    Files: ``eval_results.json``/``all_results.json``, ``per_class_metrics.json`` (under the data's name) and
    ``.md``, ``confusion_matrix_<name>.png``/``.json``, ``evaluation_report.json`` (source, missing classes,
    skipped files, photos without a hand: null for pixel models) and ``predictions.csv`` (one row per image, with
    ``hand_found`` for landmark models)."""
    output_dir = Path(output_dir)
    results = write_split_report(output_dir, images.name, result.metrics, "eval", result.hand_found)
    write_results_json(output_dir, results)
    table = format_per_class_table(shown_classes(result.metrics))
    if result.missing_classes:
        table += f"\nClasses of the model without images here: {', '.join(result.missing_classes)}\n"
    if result.no_hand:
        table += f"\n{no_hand_sentence(result)}\n"
    (output_dir / "per_class_metrics.md").write_text(f"# {model} on {images.source}\n\n{table}")
    report = {
        "model": model,
        "data": images.source,
        "split_name": images.name,
        "num_images": len(images.identifiers),
        "accuracy": result.metrics["accuracy"],
        "macro_f1": result.metrics["macro_f1"],
        "classes_evaluated": [name for name in labels if name in set(images.labels)],
        "missing_classes": result.missing_classes,
        "skipped_files": images.skipped,
        **_no_hand_fields(result),
    }
    (output_dir / "evaluation_report.json").write_text(json.dumps(report, indent=2) + "\n")
    _write_predictions(output_dir / "predictions.csv", images, result, labels)
    return results


def no_hand_sentence(result: EvaluationResult) -> str:
    """The line printed under a landmark model's scores: how many photos it never saw a hand in."""
    counts = result.no_hand
    return (f"No hand found in {counts['no_hand_found']} of {len(result.hand_found)} photos "
            f"({100 * counts['no_hand_found_fraction']:.1f}%); the model answers `{result.no_hand_label}` for them.")


def _no_hand_fields(result: EvaluationResult) -> dict:
    """Always both keys, null for pixel models: a report says whether hands were looked for at all."""
    return {"no_hand_found": None, "no_hand_found_fraction": None, **result.no_hand}


def _write_predictions(path: Path, images: LabelledImages, result: EvaluationResult, labels: Sequence[str]) -> None:
    hands = result.hand_found
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label", "predicted", "score"] + (["hand_found"] if hands is not None else []))
        for i, (identifier, label, predicted, score) in enumerate(zip(images.identifiers, images.labels, result.predictions, result.scores)):
            writer.writerow([identifier, label, labels[predicted], f"{score:.6f}"] + ([str(hands[i])] if hands is not None else []))


def evaluation_table_row(model: str, images: LabelledImages, result: EvaluationResult, output_dir: str | os.PathLike | None = None) -> dict:
    """One row of the model x data table (also the JSON record written by ``scripts/evaluate_model.py``)."""
    row = {
        "model": str(model),
        "data": images.source,
        "images": len(images.identifiers),
        "accuracy": result.metrics["accuracy"],
        "macro_f1": result.metrics["macro_f1"],
        "missing_classes": list(result.missing_classes),
        **_no_hand_fields(result),
    }
    if output_dir is not None:
        row["output_dir"] = str(output_dir)
    return row


def format_evaluation_table(rows: Sequence[Mapping]) -> str:
    """A markdown table, one row per (model, data) pair: images, accuracy, macro-F1, photos without a hand (landmark
    models; "-" for pixel models) and the model's classes without images."""
    lines = ["| model | data | images | accuracy | macro-F1 | no hand found | missing classes |", "|:--|:--|--:|--:|--:|--:|:--|"]
    for row in rows:
        missing = ", ".join(row["missing_classes"]) or "none"
        lines.append(f"| {row['model']} | {row['data']} | {row['images']} | {row['accuracy']:.4f} | {row['macro_f1']:.4f} | "
                     f"{format_no_hand(row)} | {missing} |")
    return "\n".join(lines) + "\n"


def format_no_hand(row: Mapping) -> str:
    """``"12 (4.0%)"`` for a landmark model's row, ``"-"`` for a pixel model's."""
    if row.get("no_hand_found") is None:
        return "-"
    return f"{row['no_hand_found']} ({100 * row['no_hand_found_fraction']:.1f}%)"


__all__ = [
    "EvaluationResult",
    "LabelledImages",
    "dataset_split_images",
    "evaluate_classifier",
    "evaluation_table_row",
    "folder_images",
    "format_evaluation_table",
    "format_no_hand",
    "no_hand_counts",
    "no_hand_sentence",
    "write_evaluation",
    "compute_classification_metrics",
    "format_per_class_table",
    "load_metric",
    "save_confusion_matrix",
    "write_results_json",
    "write_split_report",
]
