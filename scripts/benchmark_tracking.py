#!/usr/bin/env python
"""Hand tracking vs the photo path on videos of fingerspelled words built from real held-out photos.

    python scripts/benchmark_tracking.py --model outputs/pipeline_group/landmarks \
        --train_dir ../shared/data/asl_alphabet_sample --split_by group --output_json outputs/tracking.json
    python scripts/benchmark_tracking.py --model outputs/landmarks --dataset_dir data/asl-grouped --words HELLO,ASL

Each word becomes an mp4 (10 fps, written to --video_dir): every letter's test photos in frame order (one block of
consecutive video frames in a grouped split), each shown --repeat frames, with --nothing_frames 'nothing' photos between
letters; one more video holds frames without a hand ('nothing' photos and uniform frames). The hand-landmark model
reads every video twice, through the photo path (each frame searched as a new photo) and through tracking
(classifier.stream(): MediaPipe's video mode), one frame at a time. Prints ms per frame with and without a hand
(median and p90), hands found, per-frame accuracy, agreement between the paths and the words each types right (the
spelling machine's defaults, as scripts/spell.py), and writes everything to --output_json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from asl_hf.core.cli import run_cli


def parse_args(argv=None):
    from asl_hf.spelling.words import DEFAULT_WORDS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a saved hand-landmark model folder or Hub repo id")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--train_dir", help="a raw <CLASS>/<images> folder, split here (--split_by, --seed)")
    data.add_argument("--dataset_dir", help="a data set saved by scripts/prepare_data.py (use a grouped one)")
    parser.add_argument("--split_by", choices=["group", "random"], default="group", help="with --train_dir (default: group)")
    parser.add_argument("--seed", type=int, default=42, help="with --train_dir: the split's seed (default: 42, as training)")
    parser.add_argument("--split", default="test", help="whose photos make the videos (default: test)")
    parser.add_argument("--words", default=",".join(DEFAULT_WORDS), help="comma-separated words (default: the spell_words.py ten)")
    parser.add_argument("--repeat", type=int, default=2, help="frames each photo is shown for (default: 2: 30 frames a letter)")
    parser.add_argument("--nothing_frames", type=int, default=5, help="'nothing' frames between letters and at the end (default: 5)")
    parser.add_argument("--blank_frames", type=int, default=30, help="uniform frames in the no-hand video (default: 30)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="the spelling machine's confidence threshold (default: its own, 0.5)")
    parser.add_argument("--plain_search_only", action="store_true",
                        help="a lost hand is searched in the plain frame only (default: plain and brightened frames in turn)")
    parser.add_argument("--model_complexity", type=int, choices=[0, 1], default=None,
                        help="the tracker's landmark model: 0 lite, 1 full (default: the tracker's own)")
    parser.add_argument("--tracker_backend", choices=["litert", "mediapipe"], default=None,
                        help="who runs the tracker's hand models (default: LiteRT when ai-edge-litert is installed)")
    parser.add_argument("--min_tracking_confidence", type=float, default=None, help="MediaPipe's (default: 0.5)")
    parser.add_argument("--min_detection_confidence", type=float, default=None,
                        help="the tracker's palm-detection threshold (default: the model's processor's, 0.1)")
    parser.add_argument("--paths", nargs="+", choices=["photo", "tracking"], default=["photo", "tracking"],
                        help="which paths to run (default: both; the agreement needs both)")
    parser.add_argument("--video_dir", default=None, help="keep the mp4 files here (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the machine's cores)")
    parser.add_argument("--output_json", default=None, help="write every figure here")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.nothing_frames < 0 or args.blank_frames < 0:
        parser.error("--repeat must be at least 1, --nothing_frames and --blank_frames at least 0")
    return args


def load_clips(args) -> dict:
    """Each class's photos of the chosen split, in frame order."""
    from asl_hf.benchmark.tracking import split_clips
    from asl_hf.core.errors import DataError

    if args.train_dir:
        from asl_hf.data.prepare import load_and_split

        splits, _ = load_and_split(train_dir=args.train_dir, seed=args.seed, split_by=args.split_by)
    else:
        from asl_hf.data import load_prepared_dataset

        splits = load_prepared_dataset(args.dataset_dir)
    if args.split not in splits:
        raise DataError(f"no split {args.split!r} (there are {', '.join(splits)})")
    return split_clips(splits[args.split])


def main(argv=None) -> int:
    args = parse_args(argv)
    import os

    import torch
    from transformers.utils import logging as transformers_logging

    from asl_hf.benchmark.measure import machine_info
    from asl_hf.benchmark.tracking import format_tracking_table, run_tracking_benchmark
    from asl_hf.inference import load_classifier
    from asl_hf.spelling import SpellingSettings
    from asl_hf.spelling.words import parse_words

    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    transformers_logging.disable_progress_bar()
    words = parse_words(args.words)
    classifier = load_classifier(args.model, device="cpu")
    clips = load_clips(args)
    with tempfile.TemporaryDirectory(prefix="asl-tracking-") as scratch:
        from asl_hf.inference.hands import default_backend

        tracker_options = {"search_views": [{}]} if args.plain_search_only else {}
        tracker_options["backend"] = args.tracker_backend or default_backend()
        if args.model_complexity is not None:
            tracker_options["model_complexity"] = args.model_complexity
        for option in ("min_tracking_confidence", "min_detection_confidence"):
            if getattr(args, option) is not None:
                tracker_options[option] = getattr(args, option)
        settings = SpellingSettings(threshold=args.threshold) if args.threshold is not None else SpellingSettings()
        report = run_tracking_benchmark(classifier, clips, args.video_dir or scratch, words, args.repeat, args.nothing_frames,
                                        args.blank_frames, settings, tracker_options, tuple(args.paths))
    report = {"machine": machine_info("cpu"), "model": args.model,
              "command": "python scripts/benchmark_tracking.py " + " ".join(argv if argv is not None else sys.argv[1:]), **report}
    print(format_tracking_table(report))
    if args.output_json:
        from asl_hf.benchmark.report import write_json_report

        write_json_report(report, args.output_json)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
