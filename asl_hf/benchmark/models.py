"""The models a benchmark runs: saved folders, or untrained default-size models built on the spot.

Both come back as a saved folder (what ``asl_hf.inference.load_classifier`` loads, so batch-1
latency goes through the real prediction path) plus the training loop's :class:`ModelBundle`
(the raw module, its preprocessing spec, its parameter groups and phases).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import AslError
from ..training.arguments import MODEL_CHOICES, parse_args
from ..training.model_factory import ModelBundle, build_model_bundle
from ..training.plan import TrainingPlan


@dataclass
class BenchModel:
    name: str
    folder: Path
    bundle: ModelBundle
    trained: bool
    """False for ``--models cnn|mobilenetv2``: random weights, default size (accuracy is chance level)."""
    results: dict
    """The folder's all_results.json (empty when there is none)."""


def _bundle(model: str, scratch: Path) -> ModelBundle:
    plan = TrainingPlan.from_args(parse_args(["--model", model, "--no_pretrained", "--output_dir", str(scratch / "unused")]), [])
    bundle = build_model_bundle(plan.model, plan.schedule)
    if bundle.kind == "landmarks":  # its paths (channels_last, compile, ONNX of a pixel model) do not apply
        raise AslError(f"{model}: the benchmark measures the image models (cnn, mobilenetv2); the hand-landmark model's time "
                       "is mostly MediaPipe's (the main job's comparison table has its ms/image)")
    return bundle


def load_bench_model(model_dir: str | Path, scratch: Path) -> BenchModel:
    """A folder written by training (CNN transformers folder or timm MobileNetV2 folder)."""
    folder = Path(model_dir)
    if not (folder / "config.json").is_file():
        raise AslError(f"{folder}: not a saved model folder (no config.json); train one with scripts/train.py")
    results_file = folder / "all_results.json"
    try:
        results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    except json.JSONDecodeError as error:
        raise AslError(f"{results_file}: not valid JSON ({error.msg} at line {error.lineno})") from error
    return BenchModel(folder.name, folder, _bundle(str(folder), scratch), trained=True, results=results)


def build_untrained_bench_model(kind: str, scratch: Path) -> BenchModel:
    """A default-size model with random weights, saved to ``scratch/<kind>-untrained`` for the inference path."""
    if kind not in MODEL_CHOICES or kind == "landmarks":
        raise AslError(f"--models: the benchmark measures cnn and mobilenetv2, not {kind!r}")
    bundle = _bundle(kind, scratch)
    folder = scratch / f"{kind}-untrained"
    folder.mkdir(parents=True, exist_ok=True)
    bundle.save(bundle.model, folder)
    return BenchModel(f"{kind} (untrained)", folder, bundle, trained=False, results={})
