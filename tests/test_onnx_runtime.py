"""ONNX Runtime in the product: ``model.onnx`` exported and checked at the end of training, used by inference when it
matches the weights (eager PyTorch otherwise, or when asked), and the runtime that ran reported.

Small models with random weights are enough: what is checked is that the ONNX file gives the eager model's answers,
whatever they are.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from asl_hf.core.constants import CLASS_NAMES
from asl_hf.data.synthetic import render_example
from asl_hf.inference import ModelLoadError, load_classifier
from asl_hf.inference.onnx_export import EXPORT_REPORT, export_trained_model
from asl_hf.inference.onnx_runtime import ONNX_FILE


def make_cnn(folder: Path, seed: int = 0) -> Path:
    from asl_hf.models import AslCnnConfig, AslCnnForImageClassification, build_image_processor

    torch.manual_seed(seed)
    model = AslCnnForImageClassification(AslCnnConfig(image_size=32, conv_channels=[8, 16], hidden_size=32)).eval()
    model.save_pretrained(folder)
    build_image_processor(model.config).save_pretrained(folder)
    return folder


def photos(count: int = 12) -> list:
    """Generated sign drawings (each call draws new ones: keep one list to compare two runtimes on)."""
    return [render_example(i % len(CLASS_NAMES), 1 + i, 48) for i in range(count)]


@pytest.fixture(scope="module")
def exported_cnn(tmp_path_factory) -> tuple[Path, dict, list[str]]:
    folder = make_cnn(tmp_path_factory.mktemp("models") / "cnn")
    said: list[str] = []
    report = export_trained_model(folder, photos(), say=said.append)
    return folder, report, said


def test_export_writes_a_model_onnx_checked_on_the_test_photos(exported_cnn):
    folder, report, said = exported_cnn
    assert (folder / ONNX_FILE).is_file()
    assert json.loads((folder / EXPORT_REPORT).read_text()) == report
    assert report["exported"] and report["exporter"] in ("dynamo", "torchscript")
    assert report["test_images"] == report["top1_agreement"] == 12
    assert 0 <= report["max_probability_difference"] < 1e-4
    assert said == [f"Exported model.onnx ({report['exporter']} exporter): same top-1 as PyTorch on all 12 test photos, "
                    f"largest probability difference {report['max_probability_difference']:.2g}"]


def test_inference_runs_a_matching_model_onnx_and_says_so(exported_cnn):
    folder, _, _ = exported_cnn
    onnx, eager = load_classifier(folder, device="cpu"), load_classifier(folder, device="cpu", runtime="eager")
    assert (onnx.runtime, onnx.runtime_note) == ("onnxruntime", "ONNX Runtime (model.onnx)")
    assert (eager.runtime, eager.runtime_note) == ("eager", "PyTorch (as asked)")
    assert load_classifier(folder, device="cpu", runtime="onnx").runtime == "onnxruntime"
    images = photos(20)
    np.testing.assert_allclose(onnx.predict_proba(images), eager.predict_proba(images), atol=1e-5, rtol=0)
    assert [p[0][0] for p in onnx.predict(images, top_k=1)] == [p[0][0] for p in eager.predict(images, top_k=1)]
    with onnx.stream() as stream:  # a video's frames take the same path
        np.testing.assert_array_equal(stream.predict_proba(images[:3]), onnx.predict_proba(images[:3]))


def test_a_model_onnx_that_does_not_match_the_weights_is_not_used(exported_cnn, tmp_path):
    folder, _, _ = exported_cnn
    stale = make_cnn(tmp_path / "retrained", seed=1)  # other weights, the old file
    (stale / ONNX_FILE).write_bytes((folder / ONNX_FILE).read_bytes())
    classifier = load_classifier(stale, device="cpu")
    assert classifier.runtime == "eager"
    assert classifier.runtime_note.startswith("PyTorch (model.onnx does not match the weights: probabilities differ by ")
    with pytest.raises(ModelLoadError, match=r"retrained: runtime 'onnx' cannot be used: model.onnx does not match the weights: "):
        load_classifier(stale, device="cpu", runtime="onnx")
    (stale / ONNX_FILE).write_bytes(b"not an onnx file")
    assert load_classifier(stale, device="cpu").runtime_note.startswith("PyTorch (model.onnx cannot be run by ONNX Runtime: ")


def test_without_model_onnx_or_onnxruntime_inference_runs_eager(exported_cnn, tmp_path, monkeypatch):
    bare = make_cnn(tmp_path / "bare")
    classifier = load_classifier(bare, device="cpu")
    assert (classifier.runtime, classifier.runtime_note) == ("eager", "PyTorch (no model.onnx in the folder)")
    with pytest.raises(ModelLoadError, match="runtime 'onnx' cannot be used: no model.onnx in the folder"):
        load_classifier(bare, device="cpu", runtime="onnx")
    with pytest.raises(ModelLoadError, match="runtime must be one of auto, onnx, eager, got 'fast'"):
        load_classifier(bare, device="cpu", runtime="fast")

    import asl_hf.inference.onnx_runtime

    monkeypatch.setattr(asl_hf.inference.onnx_runtime, "onnxruntime_problem", lambda: "onnxruntime is not installed")
    classifier = load_classifier(exported_cnn[0], device="cpu")
    assert (classifier.runtime, classifier.runtime_note) == ("eager", "PyTorch (onnxruntime is not installed)")


def test_a_failed_export_leaves_no_file_and_does_not_raise(tmp_path, monkeypatch):
    import asl_hf.inference.onnx_export

    def broken(*args, **kwargs):
        raise RuntimeError("exporter exploded\nsecond line")

    monkeypatch.setattr(asl_hf.inference.onnx_export, "export_onnx", broken)
    folder, said = make_cnn(tmp_path / "cnn"), []
    report = export_trained_model(folder, photos(3), say=said.append)
    assert not report["exported"] and report["reason"] == "export failed: RuntimeError: exporter exploded"
    assert not (folder / ONNX_FILE).exists() and json.loads((folder / EXPORT_REPORT).read_text())["exported"] is False
    assert said == ["No model.onnx: export failed: RuntimeError: exporter exploded (inference runs eager PyTorch)"]


def test_a_file_whose_top1_differs_on_a_test_photo_is_removed(tmp_path, monkeypatch):
    import asl_hf.inference.onnx_export

    real = asl_hf.inference.onnx_export.compare_on_images
    monkeypatch.setattr(asl_hf.inference.onnx_export, "compare_on_images",
                        lambda *args: {**real(*args), "top1_agreement": 2})  # as if one of the 3 photos disagreed
    folder = make_cnn(tmp_path / "cnn")
    report = export_trained_model(folder, photos(3), say=lambda line: None)
    assert not report["exported"] and report["reason"] == "the top-1 label differs from eager PyTorch on 1 test photos; file removed"
    assert not (folder / ONNX_FILE).exists() and load_classifier(folder, device="cpu").runtime == "eager"


def test_the_landmark_model_runs_eager_and_is_not_exported(tmp_path):
    from asl_hf.models.asl_landmarks import AslLandmarksConfig, AslLandmarksForImageClassification, AslLandmarksImageProcessor, save_landmarks_model

    folder = save_landmarks_model(AslLandmarksForImageClassification(AslLandmarksConfig(hidden_sizes=[8])), AslLandmarksImageProcessor(),
                                  tmp_path / "landmarks")
    said: list[str] = []
    report = export_trained_model(folder, None, say=said.append)
    reason = "the hand-landmark MLP is not exported: it takes a fraction of a millisecond next to MediaPipe"
    assert not report["exported"] and report["reason"] == reason and said == []
    classifier = load_classifier(folder, device="cpu")
    assert (classifier.runtime, classifier.runtime_note) == ("eager", f"PyTorch ({reason})")
    with pytest.raises(ModelLoadError, match="runtime 'onnx' cannot be used: the hand-landmark MLP is not exported"):
        load_classifier(folder, device="cpu", runtime="onnx")


def test_the_onnx_file_is_published_with_the_model(exported_cnn):
    from asl_hf.hub.publish import _published_model_files

    assert ONNX_FILE in [path.name for path in _published_model_files(exported_cnn[0])]


@pytest.mark.slow
def test_mobilenetv2_exports_and_runs_on_onnxruntime(tmp_path):
    from asl_hf.models.mobilenet import create_mobilenetv2, save_mobilenetv2

    torch.manual_seed(0)
    folder = save_mobilenetv2(create_mobilenetv2(pretrained=False, image_size=64).eval(), tmp_path / "mobilenetv2")
    images = photos(8)
    report = export_trained_model(folder, images, say=lambda line: None)
    assert report["exported"] and report["top1_agreement"] == 8
    onnx, eager = load_classifier(folder, device="cpu"), load_classifier(folder, device="cpu", runtime="eager")
    assert onnx.runtime == "onnxruntime"
    np.testing.assert_allclose(onnx.predict_proba(images), eager.predict_proba(images), atol=1e-4, rtol=0)
