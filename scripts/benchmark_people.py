#!/usr/bin/env python
"""People the model never saw: leave-one-person-out training, then "your hand" calibration with k photos a letter.

    python scripts/benchmark_people.py --train_dir ../shared/data/asl_alphabet_sample \
        --people_dir ../shared/data/other_signers_train --output_dir outputs/people \
        --signer_model outputs/pipeline/landmarks --signer_dataset_dir outputs/pipeline/data --signer_source asl_alphabet_sample

For each person of --people_dir (read from the file names, --person_pattern: person and session, e.g. hand1 and the
lighting direction bot in hand1_a_bot_seg_1_cropped.jpeg), the hand-landmark model is trained with the training
defaults (accelerate launch scripts/train.py --split_by group) on --train_dir plus the other people, never on that
person (kept in <output_dir>/without_<person>; an existing one is reused unless --overwrite_output_dir). Then: k = 0,
the model alone on the person's photos of the other sessions; k = 1/3/5, calibrated (asl_hf.inference.calibration)
with k photos a letter from ONE session, each session in turn, --draws random draws each. With --signer_model, the
same for the training signer: calibrated with k photos a class of its training split, tested on its test split.

Prints a table (accuracy at each k per person, the mean, errors at k = 3 against k = 0) and the cost per frame, and
writes everything to --output_json (default <output_dir>/people.json).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asl_hf.core.cli import run_cli


def parse_args(argv=None):
    from asl_hf.benchmark.people import DEFAULT_KS, PERSON_PATTERN

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train_dir", nargs="+", required=True, help="the main training folder(s), used in every run")
    parser.add_argument("--people_dir", required=True, help="photos of several people: <people_dir>/<CLASS>/<person>_...")
    parser.add_argument("--output_dir", required=True, help="models trained without each person, and the report")
    parser.add_argument("--person_pattern", default=PERSON_PATTERN, help=f"regex with groups person and session (default: {PERSON_PATTERN})")
    parser.add_argument("--ks", type=int, nargs="+", default=list(DEFAULT_KS), help="photos a letter to calibrate with (default: 1 3 5)")
    parser.add_argument("--draws", type=int, default=3, help="random draws per session and k (default: 3)")
    parser.add_argument("--seed", type=int, default=42, help="training and split seed (default: 42, as the main job)")
    parser.add_argument("--signer_model", default=None, help="the full landmark model, for the training signer's row")
    parser.add_argument("--signer_dataset_dir", default=None, help="its prepared data set (scripts/prepare_data.py)")
    parser.add_argument("--signer_source", default=None, help="which source of it is the training signer (default: all)")
    parser.add_argument("--overwrite_output_dir", action="store_true", help="retrain the models even where they exist")
    parser.add_argument("--output_json", default=None, help="default: <output_dir>/people.json")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if bool(args.signer_model) != bool(args.signer_dataset_dir):
        parser.error("--signer_model and --signer_dataset_dir go together")
    return args


def train_without(args, person: str, photos, output: Path) -> Path:
    """The landmark model trained on --train_dir plus every person but ``person`` (reused when it exists)."""
    from asl_hf.benchmark.people import link_folder
    from asl_hf.pipeline.main_job import launch

    model_dir = output / f"without_{person}"
    if (model_dir / "config.json").is_file() and not args.overwrite_output_dir:
        print(f"Reusing {model_dir}")
        return model_dir
    others = link_folder([p for p in photos if p.person != person], output / "data" / f"people_without_{person}")
    launch(str(Path(__file__).resolve().parent), [
        "--model", "landmarks", "--train_dir", *args.train_dir, str(others), "--split_by", "group", "--seed", str(args.seed),
        "--output_dir", str(model_dir), "--overwrite_output_dir", "--no_progress"])
    return model_dir


def main(argv=None) -> int:
    args = parse_args(argv)
    from transformers.utils import logging as transformers_logging

    from asl_hf.benchmark.measure import machine_info
    from asl_hf.benchmark.report import write_json_report
    from asl_hf.benchmark.people import calibration_scores, format_people_table, frame_cost_ms, person_hands, scan_people, signer_scores
    from asl_hf.inference import load_classifier

    transformers_logging.disable_progress_bar()
    photos = scan_people(args.people_dir, args.person_pattern)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    people, cost = {}, None
    for person in sorted({p.person for p in photos}):
        classifier = load_classifier(train_without(args, person, photos, output))
        hands = person_hands(classifier, [p for p in photos if p.person == person], show_progress=not args.no_progress)
        people[person] = {**calibration_scores(classifier, hands, args.ks, args.draws), "model": str(output / f"without_{person}")}
        cost = cost or frame_cost_ms(classifier, hands)
    signer = None
    if args.signer_model:
        signer = signer_scores(load_classifier(args.signer_model), args.signer_dataset_dir, args.signer_source, args.ks, args.draws)
        signer["model"] = args.signer_model
    report = {"machine": machine_info("cpu"), "command": "python scripts/benchmark_people.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "ks": args.ks, "people": people, "signer": signer, "frame_cost": cost}
    print(format_people_table(report))
    print(f"Per frame (batch 1, landmarks given): model {cost['model_ms']:.2f} ms, calibrated with k = {cost['k']} "
          f"{cost['calibrated_ms']:.2f} ms; binding a calibration {cost['build_ms']:.1f} ms.")
    write_json_report(report, args.output_json or output / "people.json")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
