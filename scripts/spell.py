#!/usr/bin/env python
"""Spell from a video or a folder of frames: classify each frame, keep the letters that are held, print the text.

    python scripts/spell.py --model outputs/cnn clip.mp4
    python scripts/spell.py --model user/asl-mobilenetv2 frames/ --fps 15 --hold_seconds 0.6 --output_json spelled.json
    python scripts/spell.py --model outputs/pipeline/landmarks --calibration my-hand.safetensors clip.mp4

INPUT is a video file (sampled at --fps using its timestamps) or a folder of frame images (taken in natural
file-name order, frame2 before frame10, --fps apart). A letter is typed once it stays the top prediction, above
--threshold, for --hold_seconds; the same letter twice needs a release ('nothing', no hand or low confidence) in
between; space types a space, del deletes. The typed text is the last line of standard output; --output_json also
writes each keystroke's time and confidence, every frame's prediction and which runtime ran. The hand-landmark model
tracks the hand from frame to frame (--no_tracking: search every frame as a photo).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from asl_hf.core.cli import run_cli
from asl_hf.inference.loading import RUNTIMES
from asl_hf.spelling.spell_frames import add_spelling_arguments, settings_from_args
from asl_hf.spelling import SpellingSettings


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, SpellingSettings]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", metavar="INPUT", help="a video file or a folder of frame images")
    parser.add_argument("--model", required=True, help="saved model folder or Hub repo id (CNN, MobileNetV2 or hand landmarks)")
    parser.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) of --model")
    parser.add_argument("--hub_token", "--token", dest="hub_token", default=None, help="Hub token for a private --model")
    parser.add_argument("--calibration", default=None,
                        help="your calibration file (scripts/calibrate.py): the hand-landmark model adapted to your hand")
    parser.add_argument("--output_json", default=None, help="write the text, keystrokes and per-frame predictions here")
    parser.add_argument("--per_device_eval_batch_size", type=int, default=32, help="frames per forward pass")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto",
                        help="forward pass of a pixel model: ONNX Runtime when the model has a matching model.onnx (auto), "
                             "ONNX Runtime or an error (onnx), PyTorch (eager) (default: auto)")
    parser.add_argument("--no_tracking", action="store_true",
                        help="hand-landmark model: look for the hand in every frame as in an unrelated photo (up to six "
                             "detection attempts) instead of tracking it from frame to frame (MediaPipe's video mode)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    add_spelling_arguments(parser)
    args = parser.parse_args(argv)
    if args.per_device_eval_batch_size < 1:
        parser.error("--per_device_eval_batch_size must be at least 1")
    return args, settings_from_args(args, parser)


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(argv)
    from transformers.utils import logging as transformers_logging

    from asl_hf.spelling.frames import open_frames
    from asl_hf.inference import load_classifier
    from asl_hf.spelling.spell_frames import spell_frames

    source = open_frames(args.input, args.fps)  # a bad input fails before the model loads
    transformers_logging.disable_progress_bar()
    classifier = load_classifier(args.model, revision=args.revision, token=args.hub_token, device=args.device,
                                 batch_size=args.per_device_eval_batch_size, runtime=args.runtime, calibration=args.calibration)
    result = spell_frames(classifier, source.frames, settings, args.per_device_eval_batch_size, source.expected_frames,
                          show_progress=not args.no_progress, track_hands=not args.no_tracking)
    from asl_hf.inference.hands import default_backend

    tracker = default_backend() if classifier.detects_hands and not args.no_tracking else None
    hands = (f"tracked by {tracker}" if tracker else "found per frame as in photos") if classifier.detects_hands else None
    print(f"Spelled {len(result.predictions)} frames of {source.kind} {source.path} at {args.fps:g} fps with {args.model} "
          f"({classifier.runtime}{f', hands {hands}' if hands else ''}{f', calibrated with {args.calibration}' if args.calibration else ''})")
    for keystroke in result.keystrokes:
        print(f"  {keystroke.time:8.2f} s  {keystroke.label:<7} (held from {keystroke.start_time:.2f} s, "
              f"confidence {keystroke.confidence:.2f})")
    if args.output_json:
        report = {"input": source.path, "model": args.model, "runtime": classifier.runtime,
                  "hands": None if hands is None else ("tracked" if tracker else "photo"), "hand_tracker": tracker,
                  "calibration": args.calibration,
                  "fps": args.fps, "settings": asdict(settings), **result.to_json()}
        Path(args.output_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output_json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"Wrote the keystrokes and per-frame predictions to {args.output_json}")
    print(result.text)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
