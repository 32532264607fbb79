#!/usr/bin/env python
"""Headline numbers over seeds: mean ± standard deviation (range) of every figure of models trained with several seeds.

    python scripts/run_pipeline.py --train_dir ... --seed 43 --output_dir outputs/seed43   # and 44, besides 42
    python scripts/summarize_seeds.py --model_dirs outputs/seed4{2,3,4}/cnn outputs/seed4{2,3,4}/mobilenetv2 \\
        --output_json outputs/seeds.json

Folders are grouped by the kind of model they hold (training_args.json), so one call summarises several kinds. The
figures are the test split's (accuracy, macro-F1, calibration error, accuracy per source folder) and those of every
extra folder the job evaluated the model on (eval_<folder>/). Prints a table per kind; --output_json keeps each
folder's figures and the summary.
"""

from __future__ import annotations

import argparse
import sys

from asl_hf.core.cli import run_cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dirs", nargs="+", required=True, help="model folders written by scripts/train.py, one per seed")
    parser.add_argument("--output_json", default=None, help="write every folder's figures and the summary here")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from asl_hf.benchmark.seeds import format_seed_table, seed_summary

    report = seed_summary(args.model_dirs)
    print(format_seed_table(report))
    if args.output_json:
        from asl_hf.benchmark.report import write_json_report

        write_json_report(report, args.output_json)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
