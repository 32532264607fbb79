#!/usr/bin/env python
"""Evaluate a saved model (either kind, local folder or Hub repo) on any labelled images.

    python scripts/evaluate_model.py --model outputs/cnn --test_dir /path/to/asl_alphabet_test
    python scripts/evaluate_model.py --model outputs/mobilenetv2 --dataset_dir data/asl --split test
    python scripts/evaluate_model.py --model user/asl-cnn --test_dir photos/ --output_dir eval/photos

--test_dir is a folder of class folders named like the model's classes (<test_dir>/<CLASS>/<images>). A subset of
the classes is fine: the model classes without images are listed. A class folder the model does not know is an
error (its images could never be right). Unreadable or non-image files are skipped and listed (--strict: fail).
A folder of files named <CLASS>_<anything>.jpg without class folders (the public asl_alphabet_test layout) works too.

Writes into --output_dir (default <model folder>/eval_<data name>): eval_results.json, per_class_metrics.json/.md,
confusion_matrix_<data name>.png/.json, evaluation_report.json (missing classes, skipped files), predictions.csv.

(Not named evaluate.py: Python puts this folder first on sys.path for every script in it, and a file named
evaluate.py would hide the `evaluate` library from train.py and the others.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asl_hf.cli import run_cli

MAX_LISTED_SKIPPED = 10


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="saved model folder or Hub repo id (CNN or MobileNetV2)")
    parser.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) of --model")
    parser.add_argument("--hub_token", "--token", dest="hub_token", default=None, help="Hub token for a private --model")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--test_dir", help="raw folder: <test_dir>/<CLASS>/<image files>")
    data.add_argument("--dataset_dir", help="a data set saved by scripts/prepare_data.py")
    parser.add_argument("--split", default="test", help="split of --dataset_dir to evaluate (default: test)")
    parser.add_argument("--output_dir", default=None,
                        help="where reports are written (default: <model folder>/eval_<data name>; required for a Hub --model)")
    parser.add_argument("--per_device_eval_batch_size", type=int, default=32, help="images per forward pass")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--strict", action="store_true", help="fail on the first bad file instead of skipping and reporting it")
    parser.add_argument("--num_proc", type=int, default=None, help="processes for scanning --test_dir (default: CPU count)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.per_device_eval_batch_size < 1:
        parser.error("--per_device_eval_batch_size must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from transformers.utils import logging as transformers_logging

    from asl_hf.errors import AslError
    from asl_hf.evaluation import dataset_split_images, evaluate_classifier, folder_images, format_per_class_table, shown_classes, write_evaluation
    from asl_hf.inference import load_classifier

    local_model = Path(args.model).is_dir()
    if args.output_dir is None and not local_model:
        raise AslError(f"--output_dir is required when --model is not a local folder ({args.model!r} is read from the Hub)")
    transformers_logging.disable_progress_bar()
    classifier = load_classifier(args.model, revision=args.revision, token=args.hub_token, device=args.device,
                                 batch_size=args.per_device_eval_batch_size)
    if args.test_dir:
        images = folder_images(args.test_dir, classifier.labels, strict=args.strict, num_proc=args.num_proc,
                               show_progress=not args.no_progress)
    else:
        images = dataset_split_images(args.dataset_dir, args.split, classifier.labels)
    output_dir = Path(args.output_dir) if args.output_dir else Path(args.model) / f"eval_{images.name}"

    print(f"Evaluating {args.model} on {images.source}: {len(images.identifiers)} images")
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
    results = write_evaluation(output_dir, args.model, images, result, classifier.labels)
    print(f"eval_accuracy: {results['eval_accuracy']:.4f}")
    print(f"eval_macro_f1: {results['eval_macro_f1']:.4f}")
    print(f"Wrote the results, per-class table and confusion matrix to {output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
