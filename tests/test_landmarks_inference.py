"""The hand-landmark model through the inference path, evaluate_model.py and its "no hand found" reporting.

An untrained saved folder is enough: these tests check the plumbing (which photos had a hand, how that is reported),
not the scores. Real photos come from ../shared/data/other_signers_dev; tests that need them skip without it.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from asl_hf.core.cli import run_cli
from asl_hf.core.constants import CLASS_NAMES
from asl_hf.inference import ModelLoadError, Prediction, load_classifier
from tests.markers import needs_mediapipe

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "evaluate_model.py"
REAL_PHOTOS = REPO.parent / "shared" / "data" / "other_signers_dev"

needs_real_photos = pytest.mark.skipif(not REAL_PHOTOS.is_dir(), reason=f"{REAL_PHOTOS} is absent (real photos of other signers)")


def real_photos(label: str, count: int) -> list[Path]:
    return sorted((REAL_PHOTOS / label).glob("*.jpg"))[:count]


def grey(size: int = 96) -> Image.Image:
    """A flat grey photo: MediaPipe finds no hand in it."""
    return Image.new("RGB", (size, size), (128, 128, 128))


@pytest.fixture(scope="module")
def landmarks_dir(tmp_path_factory) -> Path:
    from asl_hf.models.asl_landmarks import AslLandmarksConfig, AslLandmarksForImageClassification, AslLandmarksImageProcessor, save_landmarks_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "landmarks"
    save_landmarks_model(AslLandmarksForImageClassification(AslLandmarksConfig()), AslLandmarksImageProcessor(), folder)
    return folder


@pytest.fixture(scope="module")
def classifier(landmarks_dir):
    return load_classifier(landmarks_dir, device="cpu", batch_size=2)


def script_main():
    spec = importlib.util.spec_from_file_location("evaluate_model_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_load_classifier_takes_the_landmarks_folder(classifier):
    assert type(classifier.model).__name__ == "AslLandmarksForImageClassification" and not classifier.model.training
    assert classifier.labels == CLASS_NAMES and classifier.lean is None  # processor outputs go straight to the model
    assert classifier.detects_hands and classifier.no_hand_label == "nothing"


def test_a_missing_mediapipe_fails_at_load_time(landmarks_dir, monkeypatch):
    import asl_hf.models.asl_landmarks

    monkeypatch.setattr(asl_hf.models.asl_landmarks, "mediapipe_problem", lambda: "No module named mediapipe")
    with pytest.raises(ModelLoadError, match=r'needs MediaPipe: pip install "mediapipe==0.10.14"'):
        load_classifier(landmarks_dir, device="cpu")


def test_pixel_models_do_not_report_hands(tmp_path):
    from asl_hf.models import AslCnnConfig, AslCnnForImageClassification, build_image_processor

    model = AslCnnForImageClassification(AslCnnConfig(image_size=32, conv_channels=[8], hidden_size=8))
    model.save_pretrained(tmp_path)
    build_image_processor(model.config).save_pretrained(tmp_path)
    cnn = load_classifier(tmp_path, device="cpu")
    assert not cnn.detects_hands and cnn.no_hand_label is None
    assert cnn.classify([grey()]).hand_found is None
    assert cnn.predict_with_hands([grey()], top_k=3)[0].hand_found is None and len(cnn.predict([grey()], top_k=3)[0]) == 3


@needs_mediapipe
def test_no_hand_is_said_not_guessed(classifier):
    probabilities, hand_found = classifier.classify([grey(), grey(64)])
    assert hand_found.tolist() == [False, False]
    np.testing.assert_allclose(probabilities[:, CLASS_NAMES.index("nothing")], 1.0)
    assert classifier.predict_with_hands([grey()], top_k=5) == [Prediction([("nothing", 1.0)], False)]
    assert classifier.predict([grey()], top_k=5) == [[("nothing", 1.0)]]  # no zero-probability letters listed
    empty = classifier.classify([])
    assert empty.probabilities.shape == (0, 29) and empty.hand_found.shape == (0,)


@needs_mediapipe
@needs_real_photos
def test_a_real_photo_has_a_hand(classifier):
    photos = [Image.open(path) for path in real_photos("A", 2)] + [grey()]
    predictions = classifier.predict_with_hands(photos, top_k=3)  # batch_size 2: hand_found crosses batches
    assert [p.hand_found for p in predictions] == [True, True, False]
    assert all(len(p.top) == 3 for p in predictions[:2])
    probabilities = classifier.predict_proba(photos)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    assert [p.top[0][0] for p in predictions] == [CLASS_NAMES[i] for i in probabilities.argmax(-1)]


@needs_mediapipe
@needs_real_photos
def test_evaluate_script_counts_photos_without_a_hand(landmarks_dir, tmp_path, capsys):
    """2 classes x 2 real photos, plus a grey photo filed under A: one photo without a hand, reported everywhere."""
    folder = tmp_path / "tiny"
    for label in ("A", "B"):
        (folder / label).mkdir(parents=True)
        for path in real_photos(label, 2):
            shutil.copy(path, folder / label / path.name)
    grey().save(folder / "A" / "grey.jpg")
    out = tmp_path / "out"
    code = run_cli(script_main(), ["--model", str(landmarks_dir), "--test_dir", str(folder), str(folder), "--output_dir", str(out),
                                   "--no_progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "No hand found in 1 of 5 photos (20.0%); the model answers `nothing` for them." in captured.out

    pair = out / "landmarks" / "tiny"
    report = json.loads((pair / "evaluation_report.json").read_text())
    assert report["no_hand_found"] == 1 and report["no_hand_found_fraction"] == pytest.approx(0.2)
    results = json.loads((pair / "eval_results.json").read_text())
    assert results["eval_no_hand_found"] == 1 and results["eval_no_hand_found_fraction"] == pytest.approx(0.2)
    with open(pair / "predictions.csv") as handle:
        rows = {Path(row["image"]).name: row for row in csv.DictReader(handle)}
    assert rows["grey.jpg"]["hand_found"] == "False" and rows["grey.jpg"]["predicted"] == "nothing"
    assert sum(row["hand_found"] == "True" for row in rows.values()) == 4

    table = json.loads((out / "evaluation_table.json").read_text())
    assert [(row["no_hand_found"], row["no_hand_found_fraction"]) for row in table] == [(1, pytest.approx(0.2))] * 2
    assert "| no hand found |" in captured.out and "| 1 (20.0%) |" in captured.out
