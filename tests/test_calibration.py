"""One person's calibration: the file (round trip, landmarks only), the models it refuses, the classifier calls and
the three command lines that take it. Hands come from a stand-in detector keyed by the photo's colour, so every
answer here is certain (no test depends on what MediaPipe makes of a generated image)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from asl_hf.core.cli import run_cli
from asl_hf.inference import Calibration, CalibrationError, CalibrationSettings, build_calibration, load_classifier
from asl_hf.inference.calibration import BoundCalibration, calibrated_probabilities
from asl_hf.models.asl_landmarks import AslLandmarksImageProcessor, HandDetection
from tests.markers import needs_mediapipe
from tests.test_hub import load_script, make_cnn_folder, make_landmarks_folder

pytestmark = needs_mediapipe

COLOURS = {"A": (200, 40, 40), "B": (40, 200, 40), "C": (40, 40, 200)}
NO_HAND = (128, 128, 128)


def hand_points(seed: int) -> np.ndarray:
    points = np.random.default_rng(seed).uniform(20, 180, (21, 3)).astype(np.float32)
    points[:, 2] = 0.0
    return points


HANDS = {colour: hand_points(i) for i, colour in enumerate(COLOURS.values())}


@pytest.fixture(autouse=True)
def colour_detector(monkeypatch):
    """The processor's detector answers by colour: each letter's colour is that letter's fixed hand; grey has none."""

    def detect(self, image):
        points = HANDS.get(image.convert("RGB").getpixel((0, 0)))
        return None if points is None else HandDetection(points.copy(), "Left", 0.9, image.size)

    monkeypatch.setattr(AslLandmarksImageProcessor, "detect", detect)


def photo(colour) -> Image.Image:
    return Image.new("RGB", (200, 200), colour)


@pytest.fixture(scope="module")
def landmarks_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("calibration") / "landmarks"
    torch.manual_seed(0)
    make_landmarks_folder(folder)
    return folder


@pytest.fixture
def classifier(landmarks_model):
    return load_classifier(landmarks_model)


def person_folder(root: Path, extra: dict | None = None) -> Path:
    """<root>/<CLASS>/<photos>: two photos of A and B, one of A without a hand, and ``extra`` files."""
    for name in ("A", "B"):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            photo(COLOURS[name]).save(root / name / f"{name}{i}.png")
    photo(NO_HAND).save(root / "A" / "A_dark.png")
    for relative, content in (extra or {}).items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    return root


# --- the file ---------------------------------------------------------------------------------------------------
def test_the_file_round_trips_and_holds_landmarks_and_labels_only(classifier, tmp_path):
    photos = {"A": [photo(COLOURS["A"]), photo(NO_HAND)], "B": [photo(COLOURS["B"])]}
    calibration = build_calibration(classifier, photos, person="tester", settings=CalibrationSettings(weight=0.6))
    assert calibration.labels == ["A", "B"] and calibration.no_hand == {"A": 1} and calibration.counts() == {"A": 1, "B": 1}

    path = calibration.save(tmp_path / "me.safetensors")
    again = Calibration.load(path)
    assert again.labels == calibration.labels and np.array_equal(again.landmarks, calibration.landmarks)
    assert again.settings == CalibrationSettings(weight=0.6) and again.person == "tester" and again.no_hand == {"A": 1}
    assert again.layout == calibration.layout == {"num_landmarks": 21, "num_coordinates": 3, "canonical_handedness": "Left"}
    assert Calibration.from_bytes(calibration.to_bytes()).labels == ["A", "B"]

    with safe_open(str(path), "pt") as handle:  # no photo inside: two small tensors and text metadata
        assert sorted(handle.keys()) == ["label_ids", "landmarks"]
        assert handle.get_tensor("landmarks").shape == (2, 21, 3)
        assert set(handle.metadata()) == {"format", "version", "labels", "person", "settings", "layout", "no_hand"}
    assert path.stat().st_size < 2_000
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("content, message", [
    (b"not a calibration", "not a calibration file (not a safetensors file)"),
    (None, "not an asl_hf calibration file"),
])
def test_other_files_are_refused_with_one_line(tmp_path, content, message):
    path = tmp_path / "other.safetensors"
    if content is None:
        from safetensors.torch import save_file

        save_file({"weight": torch.zeros(2)}, str(path))
    else:
        path.write_bytes(content)
    with pytest.raises(CalibrationError, match=re.escape(message)) as error:
        Calibration.load(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(CalibrationError, match="no such calibration file"):
        Calibration.load(tmp_path / "missing.safetensors")


def test_a_model_it_cannot_serve_is_refused_with_a_clear_message(classifier, tmp_path):
    calibration = build_calibration(classifier, {"A": [photo(COLOURS["A"])]})
    make_cnn_folder(tmp_path / "cnn")
    with pytest.raises(CalibrationError, match="hand-landmark model only"):
        load_classifier(tmp_path / "cnn", calibration=calibration)
    other_layout = Calibration(calibration.landmarks, calibration.labels, layout={**calibration.layout, "canonical_handedness": "Right"})
    with pytest.raises(CalibrationError, match="another landmark layout"):
        classifier.classify([photo(COLOURS["A"])], calibration=other_layout)
    with pytest.raises(CalibrationError, match="classes the model does not know: hello"):
        classifier.classify([photo(COLOURS["A"])], calibration=Calibration(calibration.landmarks, ["hello"]))
    with pytest.raises(CalibrationError, match=r"unknown class names \['hello'\]"):
        build_calibration(classifier, {"hello": [photo(COLOURS["A"])]})


# --- with the classifier ------------------------------------------------------------------------------------------
def test_calibrated_calls_give_the_calibration_mixture_and_leave_other_calls_alone(landmarks_model, classifier, tmp_path):
    images = [photo(COLOURS["A"]), photo(COLOURS["C"]), photo(NO_HAND)]
    plain = classifier.classify(images)
    calibration = build_calibration(classifier, {"A": [photo(COLOURS["A"])], "B": [photo(COLOURS["B"])]})
    calibrated = classifier.classify(images, calibration=calibration)

    landmarks = torch.from_numpy(np.stack([classifier.processor.normalise(classifier.processor.detect(i)) for i in images[:2]]))
    expected = calibrated_probabilities(classifier, calibration.bind(classifier), landmarks).numpy()
    assert np.allclose(calibrated.probabilities[:2], expected, atol=1e-6)
    assert np.allclose(calibrated.probabilities.sum(1), 1.0, atol=1e-5)
    assert np.array_equal(calibrated.probabilities[2], plain.probabilities[2])  # no hand: the model's no-hand answer
    assert calibrated.hand_found.tolist() == [True, True, False]
    assert np.array_equal(classifier.classify(images).probabilities, plain.probabilities)  # a call's calibration stays in it

    path = calibration.save(tmp_path / "me.safetensors")
    loaded = load_classifier(landmarks_model, calibration=path)
    assert np.allclose(loaded.classify(images).probabilities, calibrated.probabilities, atol=1e-6)
    assert loaded.predict(images[:1], top_k=3) == classifier.predict(images[:1], top_k=3, calibration=calibration)


def test_a_stream_uses_its_calibration_for_every_frame(classifier, monkeypatch):
    from asl_hf.inference.hands import HandTracker

    monkeypatch.setattr(HandTracker, "track", lambda self, image: classifier.processor.detect(image))
    calibration = build_calibration(classifier, {"A": [photo(COLOURS["A"])]})
    frames = [photo(COLOURS["A"]), photo(COLOURS["B"])]
    with classifier.stream(calibration=calibration) as stream:
        streamed = stream.classify(frames).probabilities
    assert np.allclose(streamed, classifier.classify(frames, calibration=calibration).probabilities, atol=1e-6)


def test_the_nearest_example_decides_where_the_features_are_clear():
    """The mixture itself on made-up features: a frame equal to an example of B is B; a frame unlike every example
    keeps the model's answer (the reject option); the result is a distribution."""
    calibration = Calibration(np.zeros((2, 21, 3)), ["A", "B"])
    bound = BoundCalibration(calibration, ["A", "B", "C"], torch.eye(2, 4))
    model = torch.tensor([[0.1, 0.1, 0.8], [0.1, 0.1, 0.8]])
    frames = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    adjusted = bound.adjust(model, torch.zeros_like(model), frames, frames)
    assert adjusted[0].argmax() == 1 and adjusted[0, 1] > 0.6
    assert torch.allclose(adjusted[1], model[1], atol=1e-6)
    assert torch.allclose(adjusted.sum(1), torch.ones(2))


# --- command lines ------------------------------------------------------------------------------------------------
def test_calibrate_script_prints_what_it_used_and_writes_the_file(landmarks_model, tmp_path, capsys):
    script = load_script("calibrate")
    output = tmp_path / "me.safetensors"
    code = run_cli(script.main, ["--model", str(landmarks_model), "--photos", str(person_folder(tmp_path / "me")),
                                 "--output", str(output), "--no_progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "  A        2 used, no hand found in 1: A/A_dark.png" in out and "  B        2 used" in out
    assert Calibration.load(output).counts() == {"A": 2, "B": 2}
    assert "4 examples of 2 classes" in out
    assert run_cli(script.main, ["--model", str(landmarks_model), "--photos", str(tmp_path / "me"), "--output", str(output)]) != 0
    assert "exists; pass --overwrite_output" in capsys.readouterr().err


@pytest.mark.parametrize("case, message", [
    ("empty", "no photos"),
    ("unknown", "class folders ['hello'] are not classes of the model"),
    ("unreadable", "A/broken.jpg: not an image file that can be read"),
])
def test_calibrate_script_bad_input_is_one_line_and_writes_nothing(landmarks_model, tmp_path, capsys, case, message):
    folder = tmp_path / "photos"
    if case == "empty":
        folder.mkdir()
    else:
        person_folder(folder, {"hello/x.png": b"x"} if case == "unknown" else {"A/broken.jpg": b"not a jpeg"})
    output = tmp_path / "me.safetensors"
    code = run_cli(load_script("calibrate").main, ["--model", str(landmarks_model), "--photos", str(folder), "--output", str(output)])
    err = capsys.readouterr().err.strip()
    assert code != 0 and message in err and len(err.splitlines()) == 1
    assert not output.exists()


def test_evaluate_and_spell_scripts_score_with_the_calibration(landmarks_model, tmp_path, capsys):
    calibration = build_calibration(load_classifier(landmarks_model), {"A": [photo(COLOURS["A"])], "B": [photo(COLOURS["B"])]})
    path = calibration.save(tmp_path / "me.safetensors")
    tests = person_folder(tmp_path / "tests")
    out = tmp_path / "eval"
    code = run_cli(load_script("evaluate_model").main, ["--model", str(landmarks_model), "--calibration", str(path),
                                                        "--test_dir", str(tests), "--output_dir", str(out), "--no_progress"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"Scored with the calibration {path} (2 examples of 2 classes)" in printed
    report = json.loads((out / "evaluation_report.json").read_text())
    assert report["calibration"]["file"] == str(path) and report["calibration"]["examples"] == {"A": 1, "B": 1}
    label, probability = load_classifier(landmarks_model, calibration=path).predict([photo(COLOURS["A"])], top_k=1)[0][0]

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(6):
        photo(COLOURS["A"]).save(frames / f"frame{i}.png")
    spelled = tmp_path / "spelled.json"
    code = run_cli(load_script("spell").main, ["--model", str(landmarks_model), "--calibration", str(path), str(frames),
                                               "--no_tracking", "--output_json", str(spelled), "--no_progress"])
    printed = capsys.readouterr().out
    assert code == 0 and f"calibrated with {path}" in printed
    result = json.loads(spelled.read_text())
    assert result["calibration"] == str(path)
    assert all(frame["label"] == label and frame["probability"] == pytest.approx(probability, abs=1e-5) for frame in result["frames"])

    make_cnn_folder(tmp_path / "cnn")
    code = run_cli(load_script("evaluate_model").main, ["--model", str(tmp_path / "cnn"), "--calibration", str(path),
                                                        "--test_dir", str(tests), "--output_dir", str(tmp_path / "e2")])
    assert code != 0 and "hand-landmark model only" in capsys.readouterr().err


def test_photos_without_any_hand_give_an_empty_calibration_and_calibrate_says_so(landmarks_model, classifier, tmp_path, capsys):
    empty = build_calibration(classifier, {"A": [photo(NO_HAND)]})
    assert empty.labels == [] and empty.landmarks.shape == (0, 21, 3) and empty.no_hand == {"A": 1}
    assert Calibration.from_bytes(empty.to_bytes()).landmarks.shape == (0, 21, 3)
    assert np.allclose(classifier.classify([photo(COLOURS["A"])], calibration=empty).probabilities.sum(), 1.0, atol=1e-5)

    folder = tmp_path / "dark"
    (folder / "A").mkdir(parents=True)
    photo(NO_HAND).save(folder / "A" / "a.png")
    code = run_cli(load_script("calibrate").main, ["--model", str(landmarks_model), "--photos", str(folder),
                                                   "--output", str(tmp_path / "me.safetensors"), "--no_progress"])
    assert code != 0 and "no hand was found in any photo" in capsys.readouterr().err
    assert not (tmp_path / "me.safetensors").exists()
