#!/usr/bin/env python
"""Prepare the ASL Alphabet data: scan raw folders (or load a Hub data set), split 80/10/10, save, push.

    python scripts/prepare_data.py --train_dir /path/to/asl_alphabet_train --output_dir data/asl
    python scripts/prepare_data.py --train_dir /path/to/asl_alphabet_train /path/to/other_signers --output_dir data/many
    python scripts/prepare_data.py --train_dir ... --output_dir ... --split_by group --group_size 300
    python scripts/prepare_data.py --train_dir ... --output_dir ... --push_to_hub --hub_dataset_id user/asl-alphabet
"""

from __future__ import annotations

import argparse
import sys

from asl_hf.core.cli import run_cli
from asl_hf.data.splitting import DEFAULT_GROUP_SIZE


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_argument_group("source (default: the embedded synthetic data set)")
    source.add_argument("--train_dir", nargs="+", metavar="DIR",
                        help="raw folders, each <DIR>/<CLASS>/<image files> (any subset of the classes); "
                             "several become one data set with a 'source' column, split within each source")
    source.add_argument("--dataset_name", help="a Hub data set id with an image and a ClassLabel 'label' column")
    parser.add_argument("--output_dir", required=True, help="where the DatasetDict, card and report are saved")
    parser.add_argument("--overwrite_output_dir", action="store_true", help="replace an existing, non-empty output_dir")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--split_by", choices=["random", "group"], default="random",
                        help="random: stratified by label within each source; group: keep near copies together, "
                             "grouped by file name (honest accuracy; see README)")
    parser.add_argument("--group_size", type=int, default=DEFAULT_GROUP_SIZE,
                        help="frame numbers per block for frame-numbered names (A1005.jpg) with --split_by group "
                             "(default %(default)s: see README)")
    parser.add_argument("--strict", action="store_true", help="fail on the first bad file instead of skipping and reporting it")
    parser.add_argument("--num_proc", type=int, default=None, help="processes for scanning images (default: CPU count)")
    parser.add_argument("--push_to_hub", action="store_true", help="push the prepared data set and its card to the Hub")
    parser.add_argument("--hub_dataset_id", help="user/name of the Hub data set (with --push_to_hub)")
    parser.add_argument("--hub_token", default=None, help="Hub token (default: HF_TOKEN or `hf auth login`)")
    parser.add_argument("--private", action="store_true", help="create the Hub repo private")
    args = parser.parse_args(argv)
    if args.push_to_hub and not args.hub_dataset_id:
        parser.error("--push_to_hub needs --hub_dataset_id user/name")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from asl_hf.data import count_groups, ensure_default_data, format_source_table, format_split_table, prepare_dataset
    from asl_hf.data.splitting import source_names

    synthetic = not (args.train_dir or args.dataset_name)
    train_dir = [str(ensure_default_data())] if synthetic else args.train_dir
    if synthetic:
        print(f"No --train_dir or --dataset_name: using the embedded synthetic data set at {train_dir[0]}")
    prepared = prepare_dataset(
        args.output_dir,
        train_dir=train_dir,
        dataset_name=args.dataset_name,
        seed=args.seed,
        split_by=args.split_by,
        group_size=args.group_size if not synthetic or args.split_by != "group" else min(args.group_size, 10),
        strict=args.strict,
        num_proc=args.num_proc,
        overwrite_output_dir=args.overwrite_output_dir,
        synthetic=synthetic,
    )
    if prepared.report is not None:
        print(prepared.report.summary())
    print(format_split_table(prepared.splits))
    if len(source_names(prepared.splits)) > 1:
        groups = count_groups(prepared.splits, args.group_size) if args.split_by == "group" else None
        print(format_source_table(prepared.splits, groups))
    rate = prepared.num_images / prepared.seconds if prepared.seconds else float("nan")
    print(f"Prepared {prepared.num_images} images in {prepared.seconds:.1f} s ({rate:.0f} images/s) -> {args.output_dir}")
    if args.push_to_hub:
        from asl_hf.hub import push_dataset_folder

        url = push_dataset_folder(args.output_dir, args.hub_dataset_id, token=args.hub_token, private=args.private)
        print(f"Pushed the data set to {url}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
