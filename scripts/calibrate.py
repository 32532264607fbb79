#!/usr/bin/env python
"""Teach the hand-landmark model your hand: a calibration file from a few photos of each letter, signed by you.

    python scripts/calibrate.py --model outputs/pipeline/landmarks --photos my_hand/ --output my-hand.safetensors
    python scripts/evaluate_model.py --model outputs/pipeline/landmarks --calibration my-hand.safetensors --test_dir my_tests/
    python scripts/spell.py --model outputs/pipeline/landmarks --calibration my-hand.safetensors clip.mp4

--photos is a folder of class folders of ONE person (<photos>/<CLASS>/<images>, any subset of the model's classes;
1 to 5 photos a letter is enough). Prints, per class, how many photos were used and which had no hand found. The
output is one small safetensors file holding the hands' normalised landmarks and their letters, never a photo; it
works with the model it was made with (and any landmark model with the same classes and landmark layout) and never
changes the model's files. Load it in Python with load_classifier(model, calibration=FILE), or in the Space's
"Your hand" tab.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asl_hf.core.cli import run_cli


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="saved hand-landmark model folder or Hub repo id")
    parser.add_argument("--photos", required=True, help="one person's photos: <photos>/<CLASS>/<images>")
    parser.add_argument("--output", required=True, help="the calibration file to write (.safetensors)")
    parser.add_argument("--person", default="", help="a name for the person, kept in the file (default: none)")
    parser.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) of --model")
    parser.add_argument("--hub_token", "--token", dest="hub_token", default=None, help="Hub token for a private --model")
    parser.add_argument("--overwrite_output", action="store_true", help="replace --output if it exists")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def format_counts(calibration) -> str:
    """One line per class: photos used, and the names of those without a hand."""
    counts = calibration.counts()
    lines = []
    for name in sorted(set(counts) | set(calibration.no_hand)):
        missed = calibration.no_hand_files.get(name, [])
        line = f"  {name:<8} {counts.get(name, 0)} used"
        if missed:
            line += f", no hand found in {len(missed)}: {', '.join(missed)}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from transformers.utils import logging as transformers_logging

    from asl_hf.core.errors import AslError
    from asl_hf.inference import CalibrationError, build_calibration, load_classifier, photos_from_folder

    output = Path(args.output)
    if output.exists() and not args.overwrite_output:
        raise AslError(f"{output} exists; pass --overwrite_output to replace it")
    if output.suffix != ".safetensors":
        raise AslError(f"{output}: a calibration file ends in .safetensors")
    transformers_logging.disable_progress_bar()
    classifier = load_classifier(args.model, revision=args.revision, token=args.hub_token)
    if not classifier.detects_hands:
        raise CalibrationError(f"{args.model}: calibration works with the hand-landmark model only (this one classifies whole photos)")
    photos = photos_from_folder(args.photos, classifier.labels)  # an empty folder, unknown classes, unreadable images fail here
    calibration = build_calibration(classifier, photos, person=args.person, show_progress=not args.no_progress)
    print(f"Calibration from {args.photos} for {args.model}:")
    print(format_counts(calibration))
    if not calibration.labels:
        raise CalibrationError(f"{args.photos}: no hand was found in any photo, so there is nothing to calibrate with")
    calibration.save(output)
    print(f"{len(calibration.labels)} examples of {len(calibration.classes)} classes; wrote {output} "
          f"({output.stat().st_size:,} bytes, landmarks only)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
