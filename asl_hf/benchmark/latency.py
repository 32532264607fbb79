"""Inference: batch-1 latency from a decoded PIL image, batch throughput, and each fast path's accuracy.

Three kinds of figures per model:
- ``predict``: ``asl_hf.inference.load_classifier(folder).predict([image])``, the path users call
  (with the classifier's default device: the GPU when there is one, and its runtime: ONNX Runtime when the folder has
  a matching ``model.onnx``), and ``predict_by_runtime``: the same call with ``runtime="eager"`` and
  ``runtime="onnx"``, each with its test accuracy and agreement with eager;
- ``spell_frame``: the same classifier's ``predict_proba`` on one image plus one spelling-machine update, the
  per-frame work of live fingerspelling (``asl_hf.spelling``);
- ``preprocessing``: the model's own image processor vs the lean equivalent (same numbers, asserted);
- one row per forward path (eager, channels_last, compile, ONNX Runtime fp32/int8): batch-1 latency
  with lean preprocessing included, batch throughput with and without preprocessing, test accuracy,
  agreement with eager and the largest |logit difference| from eager on the whole test split.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import datasets
import torch
from PIL import Image

from ..models.preprocessing import build_eval_transform
from .fast_paths import build_paths
from .measure import measure_latency, measure_throughput
from .models import BenchModel
from ..inference.lean import matching_lean_preprocessor


def reference_preprocessor(classifier):
    """The classifier's own image processor (what ``predict`` runs): one image -> ``(1, 3, H, W)``."""
    processor = classifier.processor
    return f"{type(processor).__name__} (predict's)", lambda image: processor([image], return_tensors="pt")["pixel_values"]


def _decoded_images(split: datasets.Dataset) -> tuple[list[Image.Image], list[int]]:
    images, labels = [], []
    for example in split:
        image = example["image"]
        image.load()
        images.append(image)
        labels.append(example["label"])
    return images, labels


def spell_frame_latency(classifier, pick, runs: int, warmup: int) -> dict:
    """One live spelling frame, as the Space's Spell tab handles it: ``predict_proba`` on one decoded image, the top
    label, then one ``SpellingMachine.update`` (frames 0.1 s apart, as the webcam stream sends them)."""
    from ..spelling.spell_frames import top_predictions
    from ..spelling.machine import SpellingMachine

    machine, frame_index = SpellingMachine(), itertools.count()

    def step(i: int) -> None:
        label, probability = top_predictions(classifier, [pick(i)])[0]
        machine.update(label, probability, next(frame_index) / 10)  # its own clock: measure_latency restarts i

    return measure_latency(step, runs, warmup).as_dict()


def runtime_rows(folder: str, device: str, images: list, labels: list[int], pick, runs: int, warmup: int) -> dict:
    """``load_classifier(folder, runtime=...).predict`` at batch 1 for eager PyTorch and ONNX Runtime (when the folder
    has a matching model.onnx), with each one's test accuracy through the classifier and its top-1 agreement with eager:
    the product's own two paths, preprocessing included."""
    from ..inference import ModelLoadError, load_classifier

    rows, eager_ids = {}, None
    for runtime in ("eager", "onnx"):
        try:
            classifier = load_classifier(folder, device=device, runtime=runtime)
        except ModelLoadError as error:
            rows[runtime] = {"unavailable": str(error)}
            continue
        ids = torch.tensor(classifier.predict_ids(images))
        eager_ids = ids if eager_ids is None else eager_ids
        rows[classifier.runtime] = {
            "batch1_ms": measure_latency(lambda i: classifier.predict([pick(i)]), runs, warmup).as_dict(),
            "test_accuracy": round(float((ids == torch.tensor(labels)).float().mean()), 4),
            "agreement_with_eager": round(float((ids == eager_ids).float().mean()), 4),
        }
    return rows


def benchmark_inference(
    bench: BenchModel,
    test_split: datasets.Dataset,
    device: str,
    paths: list[str],
    runs: int = 200,
    warmup: int = 20,
    batch_size: int = 64,
    calibration_split: datasets.Dataset | None = None,
) -> dict:
    from ..inference import load_classifier

    images, labels = _decoded_images(test_split)
    if not images:
        raise ValueError("the test split is empty")
    pick = lambda i: images[i % len(images)]  # noqa: E731 - cycle through real test images

    classifier = load_classifier(str(bench.folder), device=device)
    result = {"runtime": classifier.runtime, "runtime_note": classifier.runtime_note,
              "predict": measure_latency(lambda i: classifier.predict([pick(i)]), runs, warmup).as_dict()}
    result["spell_frame"] = spell_frame_latency(classifier, pick, runs, warmup)
    result["predict_by_runtime"] = runtime_rows(str(bench.folder), device, images, labels, pick, runs, warmup)

    reference_name, reference = reference_preprocessor(classifier)
    lean, differences = matching_lean_preprocessor(bench.bundle.spec, reference, images[:32])
    eval_transform = build_eval_transform(bench.bundle.spec)
    preprocessing = {
        reference_name: measure_latency(lambda i: reference(pick(i)), runs, warmup).as_dict(),
        "asl_hf build_eval_transform": measure_latency(lambda i: eval_transform(pick(i)).unsqueeze(0), runs, warmup).as_dict(),
        "lean_max_abs_difference": differences,
    }
    if lean is not None:
        preprocessing[f"lean ({lean.backend})"] = measure_latency(lambda i: lean(pick(i)), runs, warmup).as_dict()
    else:  # no lean backend matches: time the paths with the reference preprocessing instead
        lean = lambda image: reference(image).reshape(1, *reference(image).shape[-3:])  # noqa: E731
    result["preprocessing"] = preprocessing
    result["lean_backend"] = getattr(lean, "backend", None)

    test_tensors = torch.cat([lean(image) for image in images])
    batch = torch.cat([lean(pick(i)) for i in range(batch_size)])
    calibration = None
    if "onnxruntime_int8" in paths:
        source = calibration_split if calibration_split is not None else test_split
        calibration_images, _ = _decoded_images(source.select(range(min(128, len(source)))))
        calibration = torch.cat([lean(image) for image in calibration_images])

    with tempfile.TemporaryDirectory(prefix="asl-bench-") as workdir:
        built, failed = build_paths(bench.bundle.model, paths, device, batch[:1], Path(workdir), calibration)
        eager_logits = None
        rows = {}
        for path in built:
            logits = torch.cat([path.run(test_tensors[i : i + batch_size]) for i in range(0, len(test_tensors), batch_size)])
            if eager_logits is None:
                eager_logits = logits  # "eager" is always built first when requested
            predictions = logits.argmax(-1)
            reference_predictions = eager_logits.argmax(-1)
            rows[path.name] = {
                "batch1_ms": measure_latency(lambda i: path.run(lean(pick(i))).argmax(-1), runs, warmup).as_dict(),
                f"batch{batch_size}_images_per_second": measure_throughput(lambda i: path.run(batch), batch_size, max(3, runs // 20), 2),
                f"batch{batch_size}_with_preprocessing_images_per_second": measure_throughput(
                    lambda i: path.run(torch.cat([lean(pick(i * batch_size + j)) for j in range(batch_size)])), batch_size, max(2, runs // 50), 1
                ),
                "test_accuracy": round(float((predictions == torch.tensor(labels)).float().mean()), 4),
                "agreement_with_eager": round(float((predictions == reference_predictions).float().mean()), 4),
                "max_abs_logit_difference": round(float((logits - eager_logits).abs().max()), 6),
                **path.notes,
            }
        result["paths"] = rows
        result["failed_paths"] = failed
    result["test_images"] = len(images)
    result["input_size"] = [3, bench.bundle.spec.height, bench.bundle.spec.width]
    return result
