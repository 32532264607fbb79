#!/usr/bin/env python
"""How many words a model fingerspells correctly: frame sequences built from held-out photos, typed by the
spelling machine, compared with the words.

    python scripts/spell_words.py --model outputs/cnn --dataset_dir data/asl-grouped --split test
    python scripts/spell_words.py --model outputs/mobilenetv2 --dataset_dir data/asl --words "HELLO,ASL,BOOK" \
        --frames_per_letter 10 --output_json outputs/mobilenetv2/spell_words.json

Each letter is held for --frames_per_letter frames, each frame a different random photo of that letter from
--split of a prepared data set (scripts/prepare_data.py); --nothing_frames photos of 'nothing' go between letters
(double letters always get a release). The frames are unrelated photos, not a video, so the hand-landmark model
searches each one as a photo (no tracking: scripts/spell.py tracks hands in real videos). Prints a table (word, typed text, correct), "N of M words typed correctly"
and the per-frame accuracy. Use a split the model never trained on (--split_by group for an honest one).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asl_hf.core.cli import run_cli
from asl_hf.spelling.spell_frames import add_spelling_arguments, settings_from_args
from asl_hf.spelling import SpellingSettings
from asl_hf.spelling.words import DEFAULT_WORDS


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, SpellingSettings]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="saved model folder or Hub repo id (CNN, MobileNetV2 or hand landmarks)")
    parser.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) of --model")
    parser.add_argument("--hub_token", "--token", dest="hub_token", default=None, help="Hub token for a private --model")
    parser.add_argument("--dataset_dir", required=True, help="a data set saved by scripts/prepare_data.py")
    parser.add_argument("--split", default="test", help="split whose photos make the frames (default: test)")
    parser.add_argument("--words", default=",".join(DEFAULT_WORDS), help=f"comma-separated words (default: {','.join(DEFAULT_WORDS)})")
    parser.add_argument("--frames_per_letter", type=int, default=10, help="frames each letter is held for (default: 10)")
    parser.add_argument("--nothing_frames", type=int, default=5, help="'nothing' frames between letters and at the end (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="which random photos are drawn (default: 0)")
    parser.add_argument("--output_json", default=None, help="write the per-word results and totals here")
    parser.add_argument("--per_device_eval_batch_size", type=int, default=32, help="photos per forward pass")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    add_spelling_arguments(parser)
    args = parser.parse_args(argv)
    if args.frames_per_letter < 1 or args.nothing_frames < 0 or args.per_device_eval_batch_size < 1:
        parser.error("--frames_per_letter and --per_device_eval_batch_size must be at least 1, --nothing_frames at least 0")
    return args, settings_from_args(args, parser)


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(argv)
    from transformers.utils import logging as transformers_logging

    from asl_hf.inference import load_classifier
    from asl_hf.spelling.words import parse_words, spell_words_from_dataset

    words = parse_words(args.words)
    transformers_logging.disable_progress_bar()
    classifier = load_classifier(args.model, revision=args.revision, token=args.hub_token, device=args.device,
                                 batch_size=args.per_device_eval_batch_size)
    report = spell_words_from_dataset(
        classifier, args.dataset_dir, args.split, words, frames_per_letter=args.frames_per_letter, nothing_frames=args.nothing_frames,
        fps=args.fps, settings=settings, seed=args.seed, batch_size=args.per_device_eval_batch_size, show_progress=not args.no_progress,
    )
    print(f"Spelling {len(words)} words with {args.model} from {args.dataset_dir}[{args.split}] "
          f"({args.frames_per_letter} frames per letter at {args.fps:g} fps, hold {settings.hold_seconds:g} s)")
    print(report.format_table())
    if args.output_json:
        Path(args.output_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output_json).write_text(json.dumps({"model": args.model, "runtime": classifier.runtime, **report.to_json()}, indent=2) + "\n")
        print(f"Wrote the per-word results to {args.output_json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
