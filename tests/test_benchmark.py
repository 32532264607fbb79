"""The benchmark harness: lean preprocessing equals the real processors, fast paths agree with eager,
and scripts/benchmark.py runs end to end on tiny data (few iterations; wall time is never asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from asl_hf.benchmark.fast_paths import build_paths
from asl_hf.benchmark.measure import measure_latency, percentile
from asl_hf.inference.lean import LeanPreprocessor, matching_lean_preprocessor
from asl_hf.models.preprocessing import PreprocessSpec, build_eval_transform

REPO = Path(__file__).resolve().parents[1]


def random_images(count: int = 6) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    sizes = [(96, 96), (200, 150), (64, 64), (37, 91), (300, 300), (128, 96)]
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes[:count]]


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    latency = measure_latency(lambda i: sum(range(100)), runs=7, warmup=1)
    assert latency.runs == 7 and latency.p50_ms <= latency.p95_ms


def test_lean_tensor_backend_matches_transformers_processor():
    from transformers import ViTImageProcessor

    spec = PreprocessSpec(height=64, width=64, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    processor = ViTImageProcessor(size={"height": 64, "width": 64}, image_mean=list(spec.mean), image_std=list(spec.std))
    reference = lambda image: processor(image, return_tensors="pt")["pixel_values"]  # noqa: E731
    lean, differences = matching_lean_preprocessor(spec, reference, random_images())
    assert lean is not None and lean.backend == "tensor", differences
    for image in random_images():
        torch.testing.assert_close(lean(image), reference(image), atol=1e-5, rtol=0)


@pytest.mark.parametrize("crop_pct", [1.0, 0.875])
def test_lean_pil_backend_matches_eval_transform(crop_pct):
    spec = PreprocessSpec(height=56, width=56, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), interpolation="bicubic", crop_pct=crop_pct)
    transform = build_eval_transform(spec)
    lean = LeanPreprocessor(spec, "pil")
    for image in random_images():
        torch.testing.assert_close(lean(image), transform(image).unsqueeze(0), atol=1e-5, rtol=0)


def test_lean_preprocessor_for_the_cnn_processor_and_not_for_a_cropping_one():
    from transformers import ViTImageProcessor

    from asl_hf.inference.lean import lean_preprocessor_for
    from asl_hf.models.asl_cnn import AslCnnConfig, build_image_processor

    processor = build_image_processor(AslCnnConfig())
    lean = lean_preprocessor_for(processor)
    assert lean is not None
    for image in random_images():
        torch.testing.assert_close(lean(image), processor([image], return_tensors="pt")["pixel_values"], atol=1e-5, rtol=0)
    cropping = ViTImageProcessor(size={"height": 64, "width": 64}, do_center_crop=True, crop_size={"height": 32, "width": 32})
    assert lean_preprocessor_for(cropping) is None


def test_no_lean_backend_is_handed_out_when_numbers_differ():
    spec = PreprocessSpec(height=32, width=32, mean=(0.5,) * 3, std=(0.5,) * 3)
    lean, differences = matching_lean_preprocessor(spec, lambda image: torch.zeros(1, 3, 32, 32) + 5.0, random_images(2))
    assert lean is None and min(differences.values()) > 1


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.classifier = nn.Linear(8 * 15 * 15, 29)

    def forward(self, pixel_values):
        return self.classifier(self.features(pixel_values))


def test_fast_paths_agree_with_eager(tmp_path):
    torch.manual_seed(0)
    model = TinyNet().eval()
    inputs = torch.randn(40, 3, 32, 32)
    paths, failed = build_paths(model, ["eager", "channels_last", "onnxruntime", "onnxruntime_int8"], "cpu", inputs[:1], tmp_path, inputs)
    assert not failed, failed
    logits = {path.name: path.run(inputs) for path in paths}
    eager = logits["eager"]
    for name in ("channels_last", "onnxruntime"):
        torch.testing.assert_close(logits[name], eager, atol=1e-4, rtol=1e-4)
        assert torch.equal(logits[name].argmax(-1), eager.argmax(-1)), name
    int8 = logits["onnxruntime_int8"]
    assert int8.shape == eager.shape and torch.isfinite(int8).all()
    # int8 rounds weights and activations, so which random input keeps its top class depends on the CPU's int8
    # kernels: assert only that the logits still follow the float model's (correlation), not an agreement rate
    assert torch.corrcoef(torch.stack([int8.flatten(), eager.flatten()]))[0, 1] > 0.9
    single = next(p for p in paths if p.name == "onnxruntime").run(inputs[:1])
    torch.testing.assert_close(single, eager[:1], atol=1e-4, rtol=1e-4)


def test_unknown_path_is_reported_not_fatal(tmp_path):
    paths, failed = build_paths(TinyNet().eval(), ["eager", "warp_drive"], "cpu", torch.randn(1, 3, 32, 32), tmp_path)
    assert [p.name for p in paths] == ["eager"] and "warp_drive" in failed


def run_script(*args: str, timeout: int = 400) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(REPO / "scripts" / "benchmark.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from asl_hf.data import generate_synthetic_asl, prepare_dataset

    root = tmp_path_factory.mktemp("bench-data")
    raw = generate_synthetic_asl(root / "raw", images_per_class=4, image_size=48)
    prepare_dataset(root / "prepared", train_dir=str(raw), seed=0)
    return root


@pytest.mark.slow
def test_script_end_to_end(tiny_data, tmp_path):
    from asl_hf.benchmark.models import build_untrained_bench_model

    saved = build_untrained_bench_model("cnn", tmp_path).folder  # a saved CNN folder, as training writes it
    (saved / "all_results.json").write_text(json.dumps({"test_accuracy": 0.5, "test_macro_f1": 0.4}))
    output = tmp_path / "bench.json"
    result = run_script(
        "--model_dirs", str(saved), "--models", "cnn", "--dataset_dir", str(tiny_data / "prepared"), "--test_dir", str(tiny_data / "raw"),
        "--paths", "eager", "channels_last", "onnxruntime", "--runs", "5", "--warmup", "1", "--batch_size", "8",
        "--train_steps", "2", "--dataloader_num_workers", "1", "--output_json", str(output),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| model | path | p50 ms |" in result.stdout and "(untrained)" in result.stdout
    report = json.loads(output.read_text())
    assert {"machine", "options", "models", "command"} <= set(report)
    assert report["machine"]["cores"] == os.cpu_count() and report["machine"]["torch_threads"] == os.cpu_count()
    trained, untrained = report["models"]
    assert trained["trained"] and not untrained["trained"]
    assert trained["saved_results"] == {"test_accuracy": 0.5, "test_macro_f1": 0.4}
    assert trained["test_dirs"][str(tiny_data / "raw")]["images"] == 29 * 4
    for model in report["models"]:
        inference = model["inference"]
        assert inference["predict"]["runs"] == 5
        assert set(inference["paths"]) == {"eager", "channels_last", "onnxruntime"}, inference["failed_paths"]
        for path in inference["paths"].values():
            assert path["agreement_with_eager"] == 1.0 and path["max_abs_logit_difference"] < 1e-3
            assert path["batch1_ms"]["p50_ms"] > 0 and path["batch8_images_per_second"] > 0
        assert inference["lean_backend"] in ("tensor", "pil")
        training = model["training"]
        assert training["loop_images_per_second"] > 0 and training["compute_images_per_second"] > 0
        assert model["data_pipeline"]["decode_augment_images_per_second"] > 0
        assert model["memory_mb"]["training_peak_rss"] >= model["memory_mb"]["inference_peak_rss"] > 0


def test_script_rejects_a_folder_without_a_model(tmp_path):
    result = run_script("--model_dirs", str(tmp_path), "--skip_training", "--runs", "1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {tmp_path}: not a saved model folder (no config.json); train one with scripts/train.py"
