#!/usr/bin/env python
"""Train the custom CNN, MobileNetV2 or the hand-landmark model on ASL fingerspelling images (CPU, one GPU or many).

    accelerate launch scripts/train.py --model cnn --train_dir /path/to/asl_alphabet_train --output_dir outputs/cnn
    accelerate launch scripts/train.py --model mobilenetv2 --dataset_dir data/asl --output_dir outputs/mobilenetv2
    accelerate launch --cpu scripts/train.py --model cnn --output_dir outputs/cnn-demo   # embedded synthetic data

`python scripts/train.py ...` works too (one process). See --help for every option.
"""

from __future__ import annotations

import sys

from asl_hf.core.cli import run_cli


def main(argv: list[str] | None = None) -> int:
    from asl_hf.training import TrainingPlan, parse_args, train

    args = parse_args(argv)
    results = train(TrainingPlan.from_args(args, argv))
    from accelerate import PartialState

    if PartialState().is_main_process:
        keys = ("eval_accuracy", "eval_macro_f1", "test_accuracy", "test_macro_f1", "train_runtime", "train_samples_per_second")
        print("\n".join(f"{key}: {results[key]}" for key in keys if key in results))
        print(f"Saved the best model (epoch {results.get('best_epoch')}) and its evaluation to {args.output_dir}")
        if args.push_to_hub:
            from asl_hf.hub import push_model_folder

            url = push_model_folder(args.output_dir, args.hub_model_id, token=args.hub_token, private=args.hub_private_repo)
            print(f"Pushed to {url}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
