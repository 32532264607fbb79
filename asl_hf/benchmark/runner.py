"""Run the whole benchmark: one child process per model, so each model's peak memory is its own.

The child sets torch's threads to the machine's cores, loads the model (saved folder or untrained
default), and measures inference, the data pipeline and training on the prepared data set.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core.errors import AslError
from .measure import current_rss_mb, machine_info, peak_rss_mb

DEFAULT_DATASET_DIR = "outputs/pipeline/data"


@dataclass
class BenchmarkOptions:
    dataset_dir: str
    paths: list[str]
    device: str = "cpu"
    runs: int = 200
    warmup: int = 20
    batch_size: int = 64
    train_steps: int = 20
    train_warmup: int = 3
    num_workers: int = 2
    skip_training: bool = False
    test_dirs: list[str] = field(default_factory=list)
    threads: int | None = None
    """Torch intra-op threads (default: ``os.cpu_count()``)."""


def resolve_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise AslError(f"--device {requested}: no CUDA device is available")
    return requested


def ensure_dataset(dataset_dir: str, scratch: Path, explicit: bool) -> str:
    """The prepared data set to measure on; without one, the embedded synthetic data prepared into ``scratch``."""
    if (Path(dataset_dir) / "dataset_dict.json").is_file():
        return dataset_dir
    if explicit:
        raise AslError(f"{dataset_dir}: not a prepared data set (no dataset_dict.json; create one with scripts/prepare_data.py)")
    from ..data import ensure_default_data, prepare_dataset

    target = scratch / "data"
    if not (target / "dataset_dict.json").is_file():
        prepare_dataset(target, train_dir=str(ensure_default_data()), seed=42, group_size=10, synthetic=True, overwrite_output_dir=True)
    return str(target)


def folder_accuracy(classifier, folder: str, batch_size: int = 64) -> dict:
    """Accuracy and macro-F1 of ``classifier`` on a raw ``<folder>/<CLASS>/<images>`` tree (evaluation's own path)."""
    from ..evaluation.scoring import evaluate_classifier, folder_images

    images = folder_images(folder, classifier.labels)
    metrics = evaluate_classifier(classifier, images, batch_size, show_progress=False).metrics
    return {"images": len(images.identifiers), "skipped": len(images.skipped), "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}


def benchmark_model(source: dict, options: BenchmarkOptions) -> dict:
    """Everything measured for one model (runs in a child process)."""
    import torch

    from ..data import load_prepared_dataset
    from .latency import benchmark_inference
    from .models import build_untrained_bench_model, load_bench_model
    from .training import benchmark_data_pipeline, benchmark_training

    torch.set_num_threads(options.threads or os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="asl-bench-model-") as scratch:
        baseline_rss = current_rss_mb()
        if source.get("model_dir"):
            bench = load_bench_model(source["model_dir"], Path(scratch))
        else:
            bench = build_untrained_bench_model(source["kind"], Path(scratch))
        splits = load_prepared_dataset(options.dataset_dir)
        result = {
            "name": bench.name,
            "kind": bench.bundle.kind,
            "folder": str(source.get("model_dir") or ""),
            "trained": bench.trained,
            "num_parameters": bench.bundle.num_parameters,
            "saved_results": {k: bench.results[k] for k in ("test_accuracy", "test_macro_f1", "eval_accuracy", "eval_macro_f1",
                                                            "train_samples_per_second") if k in bench.results},
        }
        result["inference"] = benchmark_inference(
            bench, splits["test"], options.device, options.paths, options.runs, options.warmup, options.batch_size, splits["train"],
        )
        result["memory_mb"] = {"baseline_rss": baseline_rss, "inference_peak_rss": peak_rss_mb()}
        if options.test_dirs:
            from ..inference import load_classifier

            classifier = load_classifier(str(bench.folder), device=options.device)
            result["test_dirs"] = {folder: folder_accuracy(classifier, folder, options.batch_size) for folder in options.test_dirs}
        if not options.skip_training:
            result["data_pipeline"] = benchmark_data_pipeline(bench, splits["train"])
            result["training"] = benchmark_training(
                bench, splits["train"], options.device, options.batch_size, options.train_steps, options.train_warmup, options.num_workers,
            )
            result["memory_mb"]["training_peak_rss"] = peak_rss_mb()
    return result


def _child(connection, source: dict, options: BenchmarkOptions) -> None:
    try:
        connection.send(("ok", benchmark_model(source, options)))
    except AslError as error:
        connection.send(("user", str(error)))
    except BaseException:  # noqa: BLE001 - report the child's traceback to the parent
        connection.send(("bug", traceback.format_exc()))
    finally:
        connection.close()


def run_in_child(source: dict, options: BenchmarkOptions) -> dict:
    """``benchmark_model`` in a fresh (spawned) process: its peak RSS is this model's alone."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, source, options))
    process.start()
    sender.close()
    try:
        status, payload = receiver.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"benchmark of {source} died (exit code {process.exitcode})") from None
    process.join()
    if status == "user":
        raise AslError(payload)
    if status == "bug":
        raise RuntimeError(f"benchmark of {source} failed:\n{payload}")
    return payload


def run_benchmark(sources: list[dict], options: BenchmarkOptions, isolate: bool = True) -> dict:
    """Machine description plus one result per model source (``{"model_dir": ...}`` or ``{"kind": ...}``)."""
    import torch

    torch.set_num_threads(options.threads or os.cpu_count() or 1)
    report = {"machine": machine_info(options.device), "options": asdict(options), "models": []}
    for source in sources:
        report["models"].append(run_in_child(source, options) if isolate else benchmark_model(source, options))
    return report
