#!/usr/bin/env python
"""The main job: prepare the data, train the models with `accelerate launch`, evaluate, compare.

    python scripts/run_pipeline.py                                  # embedded synthetic data, offline
    python scripts/run_pipeline.py --train_dir /path/to/asl_alphabet_train --output_dir outputs/real --test_dir other_signers/
    python scripts/run_pipeline.py --dataset_name user/asl-alphabet

Each training run is a separate `accelerate launch scripts/train.py ...` (your accelerate config
decides CPU/GPU/multi-GPU). The training defaults were chosen on real photos: on the 4,350-photo sample the
whole job (three models; the hand-landmark one when MediaPipe is installed) takes about 18 minutes on 2 CPU cores
(README).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from asl_hf.core.cli import run_cli
from asl_hf.data.splitting import DEFAULT_GROUP_SIZE

SCRIPTS = Path(__file__).resolve().parent


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train_dir", help="raw folder <train_dir>/<CLASS>/<images> (default: embedded synthetic data)")
    parser.add_argument("--dataset_name", help="a Hub data set id")
    parser.add_argument("--output_dir", default="outputs/pipeline")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--split_by", choices=["random", "group"], default="random")
    parser.add_argument("--group_size", type=int, default=DEFAULT_GROUP_SIZE,
                        help="--split_by group: frame numbers per block (default %(default)s, see README)")
    parser.add_argument("--cnn_epochs", type=int, default=None, help="default: 40 on synthetic data, train.py's default on real data")
    parser.add_argument("--mobilenet_epochs", type=int, default=None, help="phase 1 epochs (default: 2)")
    parser.add_argument("--finetune_epochs", type=int, default=None, help="phase 2 epochs (default: 16 synthetic, train.py's on real data)")
    parser.add_argument("--no_pretrained", action="store_true", help="MobileNetV2 without ImageNet weights (implied for synthetic data)")
    parser.add_argument("--pretrained_weights", default=None, help="a local safetensors file of timm's mobilenetv2_100 ImageNet weights")
    parser.add_argument("--test_dir", nargs="+", default=[],
                        help="extra labelled folders to evaluate every model on (e.g. photos of other signers)")
    parser.add_argument("--overwrite_output_dir", action="store_true")
    return parser.parse_args(argv)


def hands_available() -> bool:
    """MediaPipe with its bundled hand models (0.10.14, the `hands` extra) is what the landmark model needs."""
    from asl_hf.models.asl_landmarks import mediapipe_available

    return mediapipe_available()


def cpu_bf16() -> bool:
    """Train the CNN with bfloat16 autocast when there is no GPU and the CPU computes bfloat16 natively (AVX-512 BF16/AMX)."""
    import torch

    return not torch.cuda.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def launch(train_args: list[str]) -> None:
    """One training run through `accelerate launch`, streaming its output."""
    import os

    import torch

    # Without a GPU and without an accelerate config, `accelerate launch` runs the script with one CPU thread.
    threads = [] if torch.cuda.is_available() else ["--num_cpu_threads_per_process", str(os.cpu_count() or 1)]
    command = [sys.executable, "-m", "accelerate.commands.launch", *threads, str(SCRIPTS / "train.py"), *train_args]
    print("$ accelerate launch scripts/train.py " + " ".join(train_args), flush=True)
    completed = subprocess.run(command)
    if completed.returncode:
        raise SystemExit(completed.returncode)


def latency_ms(model_dir: Path, dataset_dir: Path, runs: int = 50) -> float:
    """Median milliseconds per image at batch 1, preprocessing included (the Space's path)."""
    import statistics
    import time

    import torch

    from asl_hf.data import load_prepared_dataset
    from asl_hf.inference import load_classifier

    torch.set_num_threads(torch.get_num_threads())
    classifier = load_classifier(str(model_dir))
    test = load_prepared_dataset(dataset_dir)["test"]
    images = [test[i % len(test)]["image"] for i in range(runs + 5)]
    for image in images[:5]:
        classifier.predict([image])
    timings = []
    for image in images[5:]:
        start = time.perf_counter()
        classifier.predict([image])
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def main(argv=None) -> int:
    args = parse_args(argv)
    from asl_hf.data import ensure_default_data, format_split_table, prepare_dataset

    output = Path(args.output_dir)
    synthetic = not (args.train_dir or args.dataset_name)
    data_dir = output / "data"
    train_dir = str(ensure_default_data()) if synthetic else args.train_dir
    if not (synthetic or args.no_pretrained):  # before any work: fail now, in one line, if no weights are reachable
        from asl_hf.models.mobilenet import describe_pretrained_source

        print(f"MobileNetV2 starts from {describe_pretrained_source(pretrained_weights=args.pretrained_weights)}")
    landmarks = not synthetic and hands_available()  # the generated drawings have no hands to find
    steps = 5 if landmarks else 4
    print(f"== 1/{steps} Data: {'embedded synthetic data set' if synthetic else args.train_dir or args.dataset_name}")
    prepared = prepare_dataset(
        data_dir, train_dir=train_dir, dataset_name=args.dataset_name, seed=args.seed, split_by=args.split_by,
        group_size=min(10, args.group_size) if synthetic else args.group_size, overwrite_output_dir=args.overwrite_output_dir, synthetic=synthetic,
    )
    if prepared.report is not None:
        print(prepared.report.summary())
    print(format_split_table(prepared.splits))

    common = ["--dataset_dir", str(data_dir), "--seed", str(args.seed), "--no_progress"]
    if args.overwrite_output_dir:
        common.append("--overwrite_output_dir")
    cnn_dir, mobilenet_dir = output / "cnn", output / "mobilenetv2"
    print(f"== 2/{steps} Training the custom CNN")
    cnn_epochs = args.cnn_epochs or (40 if synthetic else None)
    cnn_args = ["--model", "cnn", "--output_dir", str(cnn_dir), *(["--num_train_epochs", str(cnn_epochs)] if cnn_epochs else []), *common]
    if cpu_bf16():
        cnn_args += ["--mixed_precision", "bf16"]  # 1.5x faster CNN steps; scores are still taken in float32
    launch(cnn_args)
    print(f"== 3/{steps} Training MobileNetV2 (phase 1: head, phase 2: top blocks)")
    mobilenet_args = ["--model", "mobilenetv2", "--output_dir", str(mobilenet_dir), *common]
    if args.mobilenet_epochs:
        mobilenet_args += ["--num_train_epochs", str(args.mobilenet_epochs)]
    finetune_epochs = args.finetune_epochs or (16 if synthetic else None)
    if finetune_epochs:
        mobilenet_args += ["--finetune_epochs", str(finetune_epochs)]
    if args.pretrained_weights:
        mobilenet_args += ["--pretrained_weights", args.pretrained_weights]
    if synthetic or args.no_pretrained:
        # Random weights: a frozen random backbone carries no features, so phase 2 unfreezes every block,
        # and 128 px keeps the run short on a CPU.
        mobilenet_args += ["--no_pretrained", "--unfreeze_blocks", "7", "--image_size", "96", "--finetune_learning_rate", "2e-3"]
    launch(mobilenet_args)
    models = {"custom CNN": cnn_dir, "MobileNetV2": mobilenet_dir}
    if landmarks:
        print(f"== 4/{steps} Training the hand-landmark model (MediaPipe Hands landmarks + MLP)")
        models["hand landmarks"] = output / "landmarks"
        launch(["--model", "landmarks", "--output_dir", str(models["hand landmarks"]), *common])
    elif not synthetic:
        print('Skipping the hand-landmark model: it needs MediaPipe 0.10.14 (pip install "asl_hf[hands]")')

    print(f"== {steps}/{steps} Comparison (test split)")
    rows = {}
    for name, folder in models.items():
        results = json.loads((folder / "all_results.json").read_text())
        rows[name] = {
            "test_accuracy": results["test_accuracy"],
            "test_macro_f1": results["test_macro_f1"],
            "eval_accuracy": results["eval_accuracy"],
            "num_parameters": results["num_parameters"],
            "ms_per_image": round(latency_ms(folder, data_dir), 2),
            "train_runtime_s": results["train_runtime"],
        }
    print("| model | test accuracy | test macro-F1 | val accuracy | parameters | ms/image (batch 1, CPU) | training time (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['test_accuracy']:.4f} | {row['test_macro_f1']:.4f} | {row['eval_accuracy']:.4f} | "
              f"{row['num_parameters']:,} | {row['ms_per_image']:.2f} | {row['train_runtime_s']:.0f} |")
    (output / "comparison.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"Models, evaluation reports and confusion matrices are in {', '.join(map(str, models.values()))}; "
          f"the table is in {output / 'comparison.json'}")
    if args.test_dir:
        # Reports land in each model folder (eval_<folder name>/), where the model card picks them up.
        print("== Extra test folders (scripts/evaluate_model.py)")
        evaluate = [sys.executable, str(SCRIPTS / "evaluate_model.py"), "--model", *map(str, models.values()),
                    "--test_dir", *args.test_dir, "--table_json", str(output / "extra_evaluation.json"), "--no_progress"]
        print("$ python scripts/evaluate_model.py " + " ".join(evaluate[2:]), flush=True)
        if subprocess.run(evaluate).returncode:
            raise SystemExit(1)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
