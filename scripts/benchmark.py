#!/usr/bin/env python
"""Benchmark the models: batch-1 latency (preprocessing included), throughput, memory, training speed, accuracy.

    python scripts/benchmark.py --model_dirs outputs/pipeline/cnn outputs/pipeline/mobilenetv2 --output_json outputs/benchmark.json
    python scripts/benchmark.py --models cnn mobilenetv2          # untrained default-size models (speed only)
    python scripts/benchmark.py --model_dirs outputs/pipeline/cnn --test_dir /path/to/extra_test_images

Prints markdown tables (see docs/benchmarks.md) and writes every figure to --output_json.
Each model runs in its own process with torch threads = the machine's cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asl_hf.core.cli import run_cli


def parse_args(argv):
    from asl_hf.benchmark import CPU_PATHS, DEFAULT_DATASET_DIR, GPU_PATHS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dirs", nargs="+", default=[], help="saved model folders (from scripts/train.py)")
    parser.add_argument("--models", nargs="+", default=[], choices=["cnn", "mobilenetv2"],
                        help="untrained default-size models, built on the spot (marked 'untrained' in the output)")
    parser.add_argument("--dataset_dir", default=None,
                        help=f"prepared data set for test accuracy and training (default: {DEFAULT_DATASET_DIR}, "
                             "or the embedded synthetic data when that is missing)")
    parser.add_argument("--test_dir", nargs="+", default=[], help="extra raw test folders <dir>/<CLASS>/<images> to score")
    parser.add_argument("--paths", nargs="+", default=None,
                        help=f"forward paths (CPU: {' '.join(CPU_PATHS)}; GPU: {' '.join(GPU_PATHS)}); eager always runs")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--runs", type=int, default=200, help="timed batch-1 calls per measurement (after warm-up)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=64, help="throughput and training batch size")
    parser.add_argument("--train_steps", type=int, default=20, help="timed training steps per measurement")
    parser.add_argument("--dataloader_num_workers", type=int, default=2)
    parser.add_argument("--skip_training", action="store_true", help="inference figures only")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the machine's cores)")
    parser.add_argument("--no_isolate", action="store_true", help="run every model in this process (peak RSS then accumulates)")
    parser.add_argument("--output_json", default=None, help="write every figure here")
    args = parser.parse_args(argv)
    if not (args.model_dirs or args.models):
        parser.error("give --model_dirs (saved folders) and/or --models cnn mobilenetv2 (untrained)")
    if args.runs < 1 or args.warmup < 0 or args.train_steps < 1 or args.batch_size < 1:
        parser.error("--runs, --train_steps and --batch_size must be >= 1, --warmup >= 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import tempfile

    from asl_hf.benchmark import CPU_PATHS, DEFAULT_DATASET_DIR, GPU_PATHS, BenchmarkOptions, format_markdown, run_benchmark
    from asl_hf.benchmark.runner import ensure_dataset, resolve_device

    device = resolve_device(args.device)
    paths = args.paths or list(CPU_PATHS if device == "cpu" else GPU_PATHS)
    paths = ["eager"] + [p for p in paths if p != "eager"]
    with tempfile.TemporaryDirectory(prefix="asl-bench-data-") as scratch:
        dataset_dir = ensure_dataset(args.dataset_dir or DEFAULT_DATASET_DIR, Path(scratch), explicit=args.dataset_dir is not None)
        if dataset_dir != (args.dataset_dir or DEFAULT_DATASET_DIR):
            print(f"note: {DEFAULT_DATASET_DIR} not found; measuring on the embedded synthetic data set", file=sys.stderr)
        options = BenchmarkOptions(
            dataset_dir=dataset_dir, paths=paths, device=device, runs=args.runs, warmup=args.warmup, batch_size=args.batch_size,
            train_steps=args.train_steps, num_workers=args.dataloader_num_workers, skip_training=args.skip_training,
            test_dirs=args.test_dir, threads=args.threads,
        )
        sources = [{"model_dir": folder} for folder in args.model_dirs] + [{"kind": kind} for kind in args.models]
        report = run_benchmark(sources, options, isolate=not args.no_isolate)
    report["command"] = "python scripts/benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(format_markdown(report))
    if args.output_json:
        from asl_hf.benchmark.report import write_json_report

        write_json_report(report, args.output_json)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
