#!/usr/bin/env python
"""Evaluate a saved model (any kind, local folder or Hub repo) on any labelled images.

    python scripts/evaluate_model.py --model outputs/cnn --test_dir /path/to/asl_alphabet_test
    python scripts/evaluate_model.py --model outputs/mobilenetv2 --dataset_dir data/asl --split test
    python scripts/evaluate_model.py --model user/asl-cnn --test_dir photos/ --output_dir eval/photos
    python scripts/evaluate_model.py --model outputs/cnn outputs/mobilenetv2 --test_dir asl_alphabet_test other_signers

--test_dir is a folder of class folders named like the model's classes (<test_dir>/<CLASS>/<images>). A subset of
the classes is fine: the model classes without images are listed. A class folder the model does not know is an
error (its images could never be right). Unreadable or non-image files are skipped and listed (--strict: fail).
A folder of files named <CLASS>_<anything>.jpg without class folders (the public asl_alphabet_test layout) works too,
and so does the download's nesting (asl_alphabet_test/asl_alphabet_test/...: the inner folder is read).

Writes into --output_dir (default <model folder>/eval_<data name>): eval_results.json, per_class_metrics.json/.md,
confusion_matrix_<data name>.png/.json, evaluation_report.json (missing classes, skipped files, calibration error, and
accuracy per source for a prepared data set made from several folders), predictions.csv.

Hand-landmark models (MediaPipe Hands) also count the photos where no hand was found: the model answers `nothing` for
them, so they count as wrong for every letter. evaluation_report.json and the table get no_hand_found (count) and
no_hand_found_fraction (null / "-" for pixel models), eval_results.json eval_no_hand_found(_fraction), and
predictions.csv a hand_found column.

--calibration FILE (made by scripts/calibrate.py from one person's photos) scores a hand-landmark model adapted to that
person's hand, the same table otherwise; evaluation_report.json records the file and its examples.

Several models and/or several --test_dir folders: every model is evaluated on every folder, each pair's files go to
<output_dir>/<model name>/<data name> (default <model folder>/eval_<data name>), and one table is printed at the end
(model, data, images, accuracy, macro-F1, no hand found, missing classes), also written as a JSON list of rows to --table_json
(default <output_dir>/evaluation_table.json, or ./evaluation_table.json without --output_dir). Every model is loaded
and every folder checked before the first evaluation, so bad input fails before anything is written.

(Not named evaluate.py: Python puts this folder first on sys.path for every script in it, and a file named
evaluate.py would hide the `evaluate` library from train.py and the others.)
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from asl_hf.core.cli import run_cli

MAX_LISTED_SKIPPED = 10
TABLE_FILE = "evaluation_table.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", required=True, help="saved model folder(s) or Hub repo id(s) (CNN, MobileNetV2 or hand landmarks)")
    parser.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) of --model")
    parser.add_argument("--hub_token", "--token", dest="hub_token", default=None, help="Hub token for a private --model")
    parser.add_argument("--calibration", default=None,
                        help="one person's calibration file (scripts/calibrate.py): score the hand-landmark model(s) with it")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--test_dir", nargs="+", help="raw folder(s): <test_dir>/<CLASS>/<image files>")
    data.add_argument("--dataset_dir", help="a data set saved by scripts/prepare_data.py")
    parser.add_argument("--split", default="test", help="split of --dataset_dir to evaluate (default: test)")
    parser.add_argument("--output_dir", default=None,
                        help="where reports are written (default: <model folder>/eval_<data name>; required for a Hub --model; "
                             "with several models or folders: <output_dir>/<model name>/<data name>)")
    parser.add_argument("--table_json", default=None,
                        help=f"with several models or folders: where the summary table goes (default: <output_dir>/{TABLE_FILE}, "
                             f"or ./{TABLE_FILE} without --output_dir)")
    parser.add_argument("--per_device_eval_batch_size", type=int, default=32, help="images per forward pass")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--strict", action="store_true", help="fail on the first bad file instead of skipping and reporting it")
    parser.add_argument("--num_proc", type=int, default=None, help="processes for scanning --test_dir (default: CPU count)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.per_device_eval_batch_size < 1:
        parser.error("--per_device_eval_batch_size must be at least 1")
    return args


def unique_names(names: list[str]) -> list[str]:
    """Folder names for the outputs: repeated names get -2, -3... in order."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return unique


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from transformers.utils import logging as transformers_logging

    from asl_hf.core.errors import AslError
    from asl_hf.evaluation import dataset_split_images, evaluation_table_row, folder_images, format_evaluation_table, report_name
    from asl_hf.inference import load_classifier

    remote = [model for model in args.model if not Path(model).is_dir()]
    if args.output_dir is None and remote:
        raise AslError(f"--output_dir is required when --model is not a local folder ({remote[0]!r} is read from the Hub)")
    transformers_logging.disable_progress_bar()
    classifiers = [load_classifier(model, revision=args.revision, token=args.hub_token, device=args.device,
                                   batch_size=args.per_device_eval_batch_size, calibration=args.calibration) for model in args.model]

    # Every folder is checked against every model's classes before the first evaluation (scanned once per label set).
    scanned: dict[tuple, object] = {}

    def images_for(source: str, labels: list[str]):
        key = (source, tuple(labels))
        if key not in scanned:
            if args.test_dir:
                scanned[key] = folder_images(source, labels, strict=args.strict, num_proc=args.num_proc, show_progress=not args.no_progress)
            else:
                scanned[key] = dataset_split_images(source, args.split, labels)
        return scanned[key]

    sources = args.test_dir or [args.dataset_dir]
    pairs = [(model, classifier, [images_for(source, classifier.labels) for source in sources])
             for model, classifier in zip(args.model, classifiers)]
    several = len(args.model) * len(sources) > 1
    data_names = unique_names([images.name for images in pairs[0][2]])
    model_names = unique_names([report_name(Path(model).resolve().name if Path(model).is_dir() else model) for model in args.model])

    rows = []
    for (model, classifier, all_images), model_name in zip(pairs, model_names):
        for images, data_name in zip(all_images, data_names):
            if args.output_dir is None:
                output_dir = Path(model) / f"eval_{data_name}"
            else:
                output_dir = Path(args.output_dir) / model_name / data_name if several else Path(args.output_dir)
            result = evaluate_one(args, model, classifier, images, output_dir)
            rows.append({**evaluation_table_row(model, images, result, output_dir), "runtime": classifier.runtime,
                         "calibration": args.calibration})
    if several:
        table_json = Path(args.table_json or Path(args.output_dir or ".") / TABLE_FILE)
        table_json.parent.mkdir(parents=True, exist_ok=True)
        table_json.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"\n{format_evaluation_table(rows)}")
        print(f"Wrote the table to {table_json}")
    return 0


def evaluate_one(args: argparse.Namespace, model: str, classifier, images, output_dir: Path):
    """Evaluate one model on one data source, print its report and write its files (as a single evaluation does)."""
    from asl_hf.evaluation import evaluate_classifier, format_per_class_table, no_hand_sentence, shown_classes, write_evaluation

    print(f"Evaluating {model} on {images.source}: {len(images.identifiers)} images")
    if images.skipped:
        print(f"Skipped {len(images.skipped)} files:")
        for line in images.skipped[:MAX_LISTED_SKIPPED]:
            print(f"  {line}")
        if len(images.skipped) > MAX_LISTED_SKIPPED:
            print(f"  ... ({len(images.skipped) - MAX_LISTED_SKIPPED} more in evaluation_report.json)")

    result = evaluate_classifier(classifier, images, args.per_device_eval_batch_size, show_progress=not args.no_progress)
    if result.missing_classes:
        print(f"Missing classes (no images): {', '.join(result.missing_classes)}")
    print(format_per_class_table(shown_classes(result.metrics)))
    if result.hand_found is not None:
        print(no_hand_sentence(result))
    results = write_evaluation(output_dir, model, images, result, classifier.labels)
    report_file = output_dir / "evaluation_report.json"  # which runtime computed these numbers (ONNX Runtime or PyTorch)
    report = {**json.loads(report_file.read_text()), "runtime": classifier.runtime, "calibration": calibration_record(args, classifier)}
    report_file.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Runs on {classifier.runtime_note}")
    if classifier.calibration is not None:
        print(f"Scored with the calibration {args.calibration} ({len(classifier.calibration.labels)} examples of "
              f"{len(classifier.calibration.classes)} classes)")
    print(f"eval_accuracy: {results['eval_accuracy']:.4f}")
    print(f"eval_macro_f1: {results['eval_macro_f1']:.4f}")
    print(f"eval_expected_calibration_error: {result.calibration_error:.4f}")
    for source, row in (result.per_source or {}).items():
        print(f"eval_accuracy[{source}]: {row['accuracy']:.4f} ({row['images']} images)")
    print(f"Wrote the results, per-class table and confusion matrix to {output_dir}")
    return result


def calibration_record(args: argparse.Namespace, classifier) -> dict | None:
    """What evaluation_report.json says about the calibration the numbers were scored with (None: none)."""
    calibration = classifier.calibration
    if calibration is None:
        return None
    return {"file": args.calibration, "person": calibration.person, "examples": calibration.counts(),
            "settings": asdict(calibration.settings)}


if __name__ == "__main__":
    sys.exit(run_cli(main))
