"""Scoring a saved model on labelled images: a raw class folder or a prepared data set split, classified through
:mod:`asl_hf.inference` (the path users call), then written with :mod:`asl_hf.evaluation.reports`.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..core.errors import DataError
from .metrics import compute_classification_metrics
from .reports import format_per_class_table, no_hand_counts, write_results_json, write_split_report


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
    sources: list[str] | None = None
    """Where each image came from (a prepared split's ``source`` column), for per-source scores; None: one source."""

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
    from ..data import resolve_nested_root, scan_image_folder

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
    from ..data.scan import check_image_file

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
    from ..data import load_prepared_dataset
    from ..data.loading import file_names

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
        sources=source_names(dataset),
    )


def source_names(dataset) -> list[str] | None:
    """Each row's source name (the ``source`` column of a data set prepared from several folders), else None."""
    feature = dataset.features.get("source")
    if feature is None:
        return None
    values = dataset["source"]
    return [feature.int2str(v) for v in values] if hasattr(feature, "int2str") else [str(v) for v in values]


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
    per_source: dict[str, dict] | None = None
    """``{source: {"accuracy", "images"}}`` when the images came from several sources."""

    @property
    def calibration_error(self) -> float | None:
        """Expected calibration error of the predicted labels' probabilities (15 bins)."""
        return self.metrics.get("expected_calibration_error")

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
    metrics = compute_classification_metrics(predictions, references, classifier.labels, confidences=scores)
    present = set(images.labels)
    missing = [name for name in classifier.labels if name not in present]
    per_source = accuracy_by_source(predictions, references, images.sources)
    return EvaluationResult(metrics, predictions, scores, missing, hand_found, classifier.no_hand_label, per_source)


def accuracy_by_source(predictions: Sequence[int], references: Sequence[int], sources: Sequence[str] | None) -> dict | None:
    """``{source: {"accuracy", "images"}}`` in first-seen order; None without sources or with only one."""
    if not sources or len(set(sources)) < 2:
        return None
    rows: dict[str, list[bool]] = {}
    for predicted, true, source in zip(predictions, references, sources):
        rows.setdefault(source, []).append(predicted == true)
    return {source: {"accuracy": sum(hits) / len(hits), "images": len(hits)} for source, hits in rows.items()}


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
    results = write_split_report(output_dir, images.name, result.metrics, "eval", result.hand_found, result.per_source)
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
        "expected_calibration_error": result.calibration_error,
        "per_source": result.per_source,
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
        "expected_calibration_error": result.calibration_error,
        "missing_classes": list(result.missing_classes),
        **_no_hand_fields(result),
    }
    if output_dir is not None:
        row["output_dir"] = str(output_dir)
    return row


def format_evaluation_table(rows: Sequence[Mapping]) -> str:
    """A markdown table, one row per (model, data) pair: images, accuracy, macro-F1, photos without a hand (landmark
    models; "-" for pixel models) and the model's classes without images."""
    lines = ["| model | data | images | accuracy | macro-F1 | ECE | no hand found | missing classes |", "|:--|:--|--:|--:|--:|--:|--:|:--|"]
    for row in rows:
        missing = ", ".join(row["missing_classes"]) or "none"
        ece = row.get("expected_calibration_error")
        lines.append(f"| {row['model']} | {row['data']} | {row['images']} | {row['accuracy']:.4f} | {row['macro_f1']:.4f} | "
                     f"{'-' if ece is None else f'{ece:.3f}'} | {format_no_hand(row)} | {missing} |")
    return "\n".join(lines) + "\n"


def format_no_hand(row: Mapping) -> str:
    """``"12 (4.0%)"`` for a landmark model's row, ``"-"`` for a pixel model's."""
    if row.get("no_hand_found") is None:
        return "-"
    return f"{row['no_hand_found']} ({100 * row['no_hand_found_fraction']:.1f}%)"
