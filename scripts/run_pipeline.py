#!/usr/bin/env python
"""The main job: prepare the data, train the models with `accelerate launch`, evaluate, compare.

    python scripts/run_pipeline.py                                  # embedded synthetic data, offline
    python scripts/run_pipeline.py --train_dir asl_alphabet_train other_signers_train --split_by group --test_dir other_signers_dev
    python scripts/run_pipeline.py --dataset_name user/asl-alphabet

Each training run is a separate `accelerate launch scripts/train.py ...` (your accelerate config decides CPU/GPU/multi-GPU).
The training defaults were chosen on real photos (README: results, and how long the job takes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asl_hf.core.cli import run_cli
from asl_hf.data.splitting import DEFAULT_GROUP_SIZE


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train_dir", nargs="+", default=[],
                        help="raw folder(s) <train_dir>/<CLASS>/<images>, one data set with a source column (default: embedded synthetic data)")
    parser.add_argument("--dataset_name", help="a Hub data set id")
    parser.add_argument("--output_dir", default="outputs/pipeline")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--split_by", choices=["random", "group"], default="random")
    parser.add_argument("--group_size", type=int, default=DEFAULT_GROUP_SIZE,
                        help="--split_by group: frame numbers per block (default %(default)s, see README)")
    parser.add_argument("--models", nargs="+", choices=["cnn", "mobilenetv2", "landmarks"], default=["cnn", "mobilenetv2", "landmarks"],
                        help="models to train (the landmark model needs MediaPipe and real photos)")
    parser.add_argument("--cnn_epochs", type=int, default=None, help="default: 40 on synthetic data, train.py's default on real data")
    parser.add_argument("--mobilenet_epochs", type=int, default=None, help="phase 1 epochs (default: 2)")
    parser.add_argument("--finetune_epochs", type=int, default=None, help="phase 2 epochs (default: 16 synthetic, train.py's on real data)")
    parser.add_argument("--no_pretrained", action="store_true", help="MobileNetV2 without ImageNet weights (implied for synthetic data)")
    parser.add_argument("--pretrained_weights", default=None, help="a local safetensors file of timm's mobilenetv2_100 ImageNet weights")
    parser.add_argument("--test_dir", nargs="+", default=[],
                        help="extra labelled folders to evaluate every model on (e.g. photos of other signers)")
    parser.add_argument("--overwrite_output_dir", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from asl_hf.pipeline import JobSpec, run_main_job

    args = parse_args(argv)
    run_main_job(JobSpec(
        train_dirs=tuple(args.train_dir), dataset_name=args.dataset_name, output_dir=args.output_dir, seed=args.seed,
        split_by=args.split_by, group_size=args.group_size, models=tuple(args.models), cnn_epochs=args.cnn_epochs,
        mobilenet_epochs=args.mobilenet_epochs, finetune_epochs=args.finetune_epochs, no_pretrained=args.no_pretrained,
        pretrained_weights=args.pretrained_weights, test_dirs=tuple(args.test_dir), overwrite_output_dir=args.overwrite_output_dir,
        scripts_dir=str(Path(__file__).resolve().parent),
    ))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
