"""The main job: raw folders (or a Hub data set) in, trained and compared models out.

Steps: prepare the data (one ``datasets`` DatasetDict from every folder, with a ``source`` column), train each model
with its own ``accelerate launch scripts/train.py`` (your accelerate config decides CPU, one GPU or many), compare them
on the test split (per source too), and score every model on extra labelled folders (e.g. photos of other signers)
with ``scripts/evaluate_model.py``, whose reports the model cards and the Space read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import AslError

MODEL_TITLES = {"cnn": "custom CNN", "mobilenetv2": "MobileNetV2", "landmarks": "hand landmarks"}


@dataclass(frozen=True)
class JobSpec:
    """What the main job runs on and how (the command line of ``scripts/run_pipeline.py``)."""

    train_dirs: tuple[str, ...] = ()
    dataset_name: str | None = None
    output_dir: str = "outputs/pipeline"
    seed: int = 42
    split_by: str = "random"
    group_size: int = 300
    models: tuple[str, ...] = ("cnn", "mobilenetv2", "landmarks")
    cnn_epochs: int | None = None
    mobilenet_epochs: int | None = None
    finetune_epochs: int | None = None
    no_pretrained: bool = False
    pretrained_weights: str | None = None
    test_dirs: tuple[str, ...] = ()
    overwrite_output_dir: bool = False
    scripts_dir: str = "scripts"
    """Where ``train.py`` and ``evaluate_model.py`` are (the job runs them as users would)."""

    @property
    def synthetic(self) -> bool:
        """No folder and no Hub id: the embedded generated data set (an offline smoke test of the plumbing)."""
        return not (self.train_dirs or self.dataset_name)


@dataclass
class JobResult:
    model_dirs: dict[str, Path] = field(default_factory=dict)
    comparison: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0


def cpu_bf16() -> bool:
    """Train the CNN with bfloat16 autocast when there is no GPU and the CPU computes bfloat16 natively (AVX-512 BF16/AMX)."""
    import torch

    return not torch.cuda.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def launch(scripts_dir: str, train_args: list[str]) -> None:
    """One training run through ``accelerate launch``, streaming its output."""
    import torch

    # Without a GPU and without an accelerate config, `accelerate launch` runs the script with one CPU thread.
    threads = [] if torch.cuda.is_available() else ["--num_cpu_threads_per_process", str(os.cpu_count() or 1)]
    command = [sys.executable, "-m", "accelerate.commands.launch", *threads, str(Path(scripts_dir) / "train.py"), *train_args]
    print("$ accelerate launch scripts/train.py " + " ".join(train_args), flush=True)
    if subprocess.run(command).returncode:
        raise AslError(f"training failed: accelerate launch scripts/train.py {' '.join(train_args)}")


def models_to_train(spec: JobSpec) -> list[str]:
    """The requested models that can run here: the landmark model needs MediaPipe and photos of hands (the generated
    drawings have none)."""
    from ..models.asl_landmarks import mediapipe_available

    models = list(spec.models)
    if "landmarks" in models and (spec.synthetic or not mediapipe_available()):
        models.remove("landmarks")
        if not spec.synthetic:
            print('Skipping the hand-landmark model: it needs MediaPipe 0.10.14 (pip install "asl_hf[hands]")')
    return models


def prepare_data(spec: JobSpec, data_dir: Path) -> None:
    """Step 1: scan, split and save the data set (with its card and report)."""
    from ..data import ensure_default_data, format_source_table, format_split_table, prepare_dataset

    train_dirs = [str(ensure_default_data())] if spec.synthetic else list(spec.train_dirs)
    prepared = prepare_dataset(
        data_dir, train_dir=train_dirs or None, dataset_name=spec.dataset_name, seed=spec.seed, split_by=spec.split_by,
        group_size=min(10, spec.group_size) if spec.synthetic else spec.group_size,
        overwrite_output_dir=spec.overwrite_output_dir, synthetic=spec.synthetic,
    )
    if prepared.report is not None:
        print(prepared.report.summary())
    print(format_split_table(prepared.splits))
    if "source" in prepared.splits["train"].features and len(prepared.splits["train"].features["source"].names) > 1:
        print(format_source_table(prepared.splits))


def training_arguments(spec: JobSpec, model: str, data_dir: Path, model_dir: Path) -> list[str]:
    """``scripts/train.py`` flags for one model: the training defaults (tuned on real photos), with the job's overrides
    (and small-data settings for the generated drawings)."""
    args = ["--model", model, "--output_dir", str(model_dir), "--dataset_dir", str(data_dir), "--seed", str(spec.seed), "--no_progress"]
    if spec.overwrite_output_dir:
        args.append("--overwrite_output_dir")
    if model == "cnn":
        epochs = spec.cnn_epochs or (40 if spec.synthetic else None)
        args += ["--num_train_epochs", str(epochs)] if epochs else []
        args += ["--mixed_precision", "bf16"] if cpu_bf16() else []  # 1.5x faster CNN steps; scores are taken in float32
    if model == "mobilenetv2":
        args += ["--num_train_epochs", str(spec.mobilenet_epochs)] if spec.mobilenet_epochs else []
        finetune = spec.finetune_epochs or (16 if spec.synthetic else None)
        args += ["--finetune_epochs", str(finetune)] if finetune else []
        args += ["--pretrained_weights", spec.pretrained_weights] if spec.pretrained_weights else []
        if spec.synthetic or spec.no_pretrained:
            # Random weights: a frozen random backbone carries no features, so phase 2 unfreezes every block,
            # and 96 px keeps the run short on a CPU.
            args += ["--no_pretrained", "--unfreeze_blocks", "7", "--image_size", "96", "--finetune_learning_rate", "2e-3"]
    return args


def latency_ms(model_dir: Path, data_dir: Path, runs: int = 50) -> float:
    """Median milliseconds per image at batch 1, preprocessing included (the Space's path)."""
    import statistics

    from ..data import load_prepared_dataset
    from ..inference import load_classifier

    classifier = load_classifier(str(model_dir))
    test = load_prepared_dataset(data_dir)["test"]
    images = [test[i % len(test)]["image"] for i in range(runs + 5)]
    for image in images[:5]:
        classifier.predict([image])
    timings = []
    for image in images[5:]:
        start = time.perf_counter()
        classifier.predict([image])
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def compare(model_dirs: dict[str, Path], data_dir: Path) -> dict[str, dict]:
    """Step 3: each model's test and validation scores (per source too), size, batch-1 latency and training time."""
    rows = {}
    for model, folder in model_dirs.items():
        results = json.loads((folder / "all_results.json").read_text())
        rows[MODEL_TITLES[model]] = {
            "test_accuracy": results["test_accuracy"],
            "test_macro_f1": results["test_macro_f1"],
            "eval_accuracy": results["eval_accuracy"],
            "test_expected_calibration_error": results.get("test_expected_calibration_error"),
            "test_per_source": {name: row["accuracy"] for name, row in (results.get("test_per_source") or {}).items()},
            "num_parameters": results["num_parameters"],
            "ms_per_image": round(latency_ms(folder, data_dir), 2),
            "train_runtime_s": results["train_runtime"],
        }
    return rows


def format_comparison(rows: dict[str, dict]) -> str:
    sources = sorted({name for row in rows.values() for name in row["test_per_source"]})
    header = ["model", "test accuracy", "test macro-F1", "val accuracy", *(f"test: {s}" for s in sources), "test ECE",
              "parameters", "ms/image (batch 1, CPU)", "training time (s)"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for name, row in rows.items():
        per_source = [f"{row['test_per_source'][s]:.4f}" if s in row["test_per_source"] else "-" for s in sources]
        ece = row["test_expected_calibration_error"]
        lines.append(f"| {name} | {row['test_accuracy']:.4f} | {row['test_macro_f1']:.4f} | {row['eval_accuracy']:.4f} | "
                     + "".join(f"{value} | " for value in per_source)
                     + f"{'-' if ece is None else f'{ece:.3f}'} | {row['num_parameters']:,} | {row['ms_per_image']:.2f} | {row['train_runtime_s']:.0f} |")
    return "\n".join(lines)


def evaluate_extra(scripts_dir: str, model_dirs: dict[str, Path], test_dirs: tuple[str, ...], output: Path) -> None:
    """Step 4: every model on every extra folder; the reports land in each model folder (``eval_<folder name>/``),
    where the model card and the Space find them."""
    command = [sys.executable, str(Path(scripts_dir) / "evaluate_model.py"), "--model", *map(str, model_dirs.values()),
               "--test_dir", *test_dirs, "--table_json", str(output / "extra_evaluation.json"), "--no_progress"]
    print("$ python scripts/evaluate_model.py " + " ".join(command[2:]), flush=True)
    if subprocess.run(command).returncode:
        raise AslError("evaluating the extra test folders failed (scripts/evaluate_model.py)")


def run_main_job(spec: JobSpec) -> JobResult:
    """Data, every model, the comparison and the extra folders; writes ``comparison.json`` and ``job.json``."""
    start = time.perf_counter()
    output = Path(spec.output_dir)
    if not (spec.synthetic or spec.no_pretrained) and "mobilenetv2" in spec.models:  # fail now, in one line, if no weights
        from ..models.mobilenet import describe_pretrained_source

        print(f"MobileNetV2 starts from {describe_pretrained_source(pretrained_weights=spec.pretrained_weights)}")
    models = models_to_train(spec)
    steps = len(models) + 2
    data_dir = output / "data"
    print(f"== 1/{steps} Data: {'embedded synthetic data set' if spec.synthetic else ' + '.join(spec.train_dirs) or spec.dataset_name}")
    prepare_data(spec, data_dir)
    result = JobResult()
    for step, model in enumerate(models, start=2):
        print(f"== {step}/{steps} Training the {MODEL_TITLES[model]} model")
        result.model_dirs[model] = output / model
        launch(spec.scripts_dir, training_arguments(spec, model, data_dir, result.model_dirs[model]))
    print(f"== {steps}/{steps} Comparison (test split)")
    result.comparison = compare(result.model_dirs, data_dir)
    print(format_comparison(result.comparison))
    (output / "comparison.json").write_text(json.dumps(result.comparison, indent=2) + "\n")
    if spec.test_dirs:
        print("== Extra test folders (scripts/evaluate_model.py)")
        evaluate_extra(spec.scripts_dir, result.model_dirs, spec.test_dirs, output)
    result.seconds = time.perf_counter() - start
    job = {"seconds": round(result.seconds, 1), "seed": spec.seed, "split_by": spec.split_by, "train_dirs": list(spec.train_dirs),
           "dataset_name": spec.dataset_name, "test_dirs": list(spec.test_dirs), "models": {m: str(d) for m, d in result.model_dirs.items()}}
    (output / "job.json").write_text(json.dumps(job, indent=2) + "\n")
    print(f"Models, evaluation reports and confusion matrices are in {', '.join(map(str, result.model_dirs.values()))}; "
          f"the table is in {output / 'comparison.json'}; the whole job took {result.seconds / 60:.1f} min")
    return result


__all__ = ["JobResult", "JobSpec", "run_main_job"]
