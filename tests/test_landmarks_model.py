"""The hand-landmark model: config, forward (no-hand rows, mirrored test time), augmentation, MediaPipe processor,
saving and loading (also where asl_hf is not installed), pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from asl_hf.core.constants import CLASS_NAMES
from asl_hf.models.asl_landmarks import (
    AslLandmarksConfig,
    AslLandmarksForImageClassification,
    AslLandmarksImageProcessor,
    HandDetection,
    save_landmarks_model,
)
from asl_hf.models.asl_landmarks.image_processing_asl_landmarks import (
    DEFAULT_DETECTION_ATTEMPTS,
    attempt_applies,
    attempt_image,
    detect_in,
    has_dark_border,
)
from asl_hf.training.landmark_data import LandmarkAugmentation, LandmarkCollate, LandmarkSet, normalise_points
from tests.isolation import BLOCK_ASL_HF
from tests.markers import needs_mediapipe

REPO = Path(__file__).resolve().parents[1]
OTHER_SIGNERS = REPO.parent / "shared" / "data" / "other_signers_dev"


needs_photos = pytest.mark.skipif(not OTHER_SIGNERS.is_dir(), reason=f"no real photos at {OTHER_SIGNERS} (../shared is absent)")


def random_hands(batch: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return normalise_points(torch.randn(batch, 21, 3, generator=generator))


@pytest.fixture
def model():
    torch.manual_seed(0)
    return AslLandmarksForImageClassification(AslLandmarksConfig()).eval()


def test_config_defaults_and_validation():
    config = AslLandmarksConfig()
    assert [config.id2label[i] for i in range(29)] == CLASS_NAMES and config.no_hand_label == "nothing"
    for bad in ({"num_coordinates": 4}, {"hidden_sizes": []}, {"dropout": 1.0}, {"no_hand_label": "missing"}):
        with pytest.raises(ValueError):
            AslLandmarksConfig(**bad)


def test_forward_shapes_loss_and_input_errors(model):
    output = model(landmarks=random_hands(4), labels=torch.tensor([0, 1, 2, 3]))
    assert output.logits.shape == (4, 29) and output.loss.ndim == 0 and torch.isfinite(output.loss)
    with pytest.raises(ValueError, match="shape"):
        model(landmarks=torch.zeros(2, 20, 3))
    with pytest.raises(TypeError):
        model(landmarks=torch.zeros(2, 21, 3, dtype=torch.long))


def test_no_hand_rows_answer_the_no_hand_label_and_keep_the_loss_finite(model):
    hands = random_hands(3)
    found = torch.tensor([True, False, True])
    output = model(landmarks=hands, hand_found=found, labels=torch.tensor([0, 0, 0]))
    probabilities = output.logits.softmax(-1)
    assert probabilities[1].argmax().item() == CLASS_NAMES.index("nothing") and probabilities[1].max() > 0.9999
    assert torch.allclose(output.logits[[0, 2]], model(landmarks=hands[[0, 2]]).logits)
    assert torch.isfinite(output.loss) and output.loss < 25


def test_mirrored_test_time_gives_a_hand_and_its_mirror_image_the_same_answer(model):
    hands = random_hands(5)
    mirrored = hands.clone()
    mirrored[..., 0] *= -1
    assert torch.allclose(model(landmarks=hands).logits.softmax(-1), model(landmarks=mirrored).logits.softmax(-1), atol=1e-6)
    training = AslLandmarksForImageClassification(AslLandmarksConfig(dropout=0.0)).train()
    # training never mirrors: a hand and its mirror image (a mirror-pair letter) stay different inputs
    assert not torch.allclose(training(landmarks=hands).logits, training(landmarks=mirrored).logits)


def test_mirrored_test_time_answers_with_the_surer_view(model):
    hands = random_hands(64)
    mirrored = hands.clone()
    mirrored[..., 0] *= -1
    view, mirror = model.view_logits(hands).softmax(-1), model.view_logits(mirrored).softmax(-1)
    answer = model(landmarks=hands).logits.softmax(-1)
    assert torch.equal(answer.argmax(-1), torch.maximum(view, mirror).argmax(-1))  # the per-class maximum's top class
    surer = torch.where((mirror.amax(-1) > view.amax(-1)).unsqueeze(-1), mirror, view)
    assert torch.allclose(answer, surer, atol=1e-6)  # one view's own probabilities, not a renormalised mixture


def test_augmentation_keeps_the_normalisation():
    torch.manual_seed(0)
    augmented = LandmarkAugmentation(rotation=30, zoom=0.1, noise=0.02)(random_hands(64))
    assert torch.allclose(augmented[:, 0], torch.zeros(64, 3), atol=1e-6)
    assert torch.allclose(augmented[..., :2].norm(dim=-1).amax(1), torch.ones(64), atol=1e-5)
    data = LandmarkSet(random_hands(4), torch.tensor([True, False, True, True]), torch.tensor([1, 2, 3, 4]))
    assert len(data.with_hands()) == 3
    batch = LandmarkCollate()([data[i] for i in range(4)])
    assert batch["landmarks"].shape == (4, 21, 3) and batch["hand_found"].dtype == torch.bool and batch["labels"].tolist() == [1, 2, 3, 4]


def test_processor_normalises_position_scale_and_handedness():
    processor = AslLandmarksImageProcessor()
    points = np.random.default_rng(0).normal(size=(21, 3)).astype(np.float32) * 40 + 100
    right = processor.normalise(HandDetection(points, "Left", 0.9, (200, 200)))
    left = processor.normalise(HandDetection(points, "Right", 0.9, (200, 200)))
    assert np.allclose(right[0], 0) and np.isclose(np.linalg.norm(right[:, :2], axis=1).max(), 1)
    assert np.allclose(left[:, 0], -right[:, 0]) and np.allclose(left[:, 1:], right[:, 1:])
    with pytest.raises(ValueError):
        AslLandmarksImageProcessor(canonical_handedness="up")


def test_save_and_reload_with_the_auto_classes(model, tmp_path):
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    save_landmarks_model(model, AslLandmarksImageProcessor(min_detection_confidence=0.2), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "asl_landmarks" and "AutoModelForImageClassification" in config["auto_map"]
    reloaded = AutoModelForImageClassification.from_pretrained(tmp_path).eval()
    processor = AutoImageProcessor.from_pretrained(tmp_path)
    assert isinstance(processor, AslLandmarksImageProcessor) and processor.min_detection_confidence == 0.2
    hands = random_hands(3)
    assert torch.allclose(reloaded(landmarks=hands).logits, model(landmarks=hands).logits)


def test_saved_folder_loads_where_asl_hf_is_not_installed(model, tmp_path):
    save_landmarks_model(model, AslLandmarksImageProcessor(), tmp_path)
    code = BLOCK_ASL_HF + f"""
import torch
from transformers import AutoImageProcessor, AutoModelForImageClassification
model = AutoModelForImageClassification.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()
processor = AutoImageProcessor.from_pretrained({str(tmp_path)!r}, trust_remote_code=True)
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
out = model(landmarks=torch.zeros(1, 21, 3), hand_found=torch.tensor([False]))
print(model.config.id2label[out.logits.argmax(-1).item()], type(processor).__name__)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["nothing", "AslLandmarksImageProcessor"]


@needs_mediapipe
def test_processor_finds_no_hand_on_a_blank_photo_and_the_pipeline_says_nothing(model, tmp_path):
    from transformers import pipeline

    blank = Image.new("RGB", (200, 200), (128, 128, 128))
    features = AslLandmarksImageProcessor()([blank, blank], return_tensors="pt")
    assert features["landmarks"].shape == (2, 21, 3) and not features["hand_found"].any()
    save_landmarks_model(model, AslLandmarksImageProcessor(), tmp_path)
    classify = pipeline("image-classification", model=str(tmp_path), trust_remote_code=True)
    top = classify(blank, top_k=1)[0]
    assert top["label"] == "nothing" and top["score"] > 0.9999


@needs_mediapipe
@needs_photos
def test_processor_finds_the_hand_of_another_signer():
    photo = Image.open(sorted((OTHER_SIGNERS / "B").glob("*.jpg"))[0])
    processor = AslLandmarksImageProcessor()
    detection = processor.detect(photo)
    assert detection is not None and detection.points.shape == (21, 3) and detection.handedness in ("Left", "Right")
    left, top, right, bottom = detection.box()
    assert 0 <= left < right <= photo.width and 0 <= top < bottom <= photo.height
    drawn = processor.draw(photo, detection)
    assert drawn.size == (right - left, bottom - top)
    features = processor([photo], return_tensors="pt")
    assert features["hand_found"].tolist() == [True]
    assert torch.allclose(features["landmarks"][0], torch.from_numpy(processor.normalise(detection)))


def test_segmented_photos_get_the_gated_black_border_attempt_first():
    segmented = np.zeros((60, 40, 3), np.uint8)
    segmented[20:40, 10:30] = 200  # a hand-coloured blob inside a black frame
    room = np.full((60, 40, 3), 90, np.uint8)
    assert has_dark_border(segmented) and not has_dark_border(room)
    gated = DEFAULT_DETECTION_ATTEMPTS[0]
    assert gated["when"] == "dark_border" and attempt_applies(gated, segmented) and not attempt_applies(gated, room)
    assert all(attempt_applies(attempt, room) for attempt in DEFAULT_DETECTION_ATTEMPTS[1:])
    with pytest.raises(ValueError, match="when='sometimes'"):
        attempt_applies({"when": "sometimes"}, room)

    shown, pad, scale = attempt_image(room, gated)
    assert (pad, scale) == (30, 1.0) and shown.shape == (120, 100, 3)
    assert shown[:pad].max() == 0 and (shown[pad:-pad, pad:-pad] == 90).all()
    shown, pad, scale = attempt_image(room, {"padding": 0.25, "scale": 0.5})
    assert scale == 0.5 and pad == 8 and shown.shape == (30 + 16, 20 + 16, 3)
    assert (shown[0, 0] == 90).all()  # the default border is the photo's mean colour


def test_attempt_images_are_what_pil_makes_of_the_same_steps():
    """The attempt's border and brightening are written in numpy for speed; PIL's own operations are the reference."""
    from PIL import ImageOps

    photo = np.random.default_rng(0).integers(0, 256, (37, 52, 3), dtype=np.uint8)
    shown, pad, _ = attempt_image(photo, {"padding": 0.25, "fill": (10, 200, 30), "gamma": 0.4})
    table = [round(255 * (v / 255) ** 0.4) for v in range(256)]
    expected = ImageOps.expand(Image.fromarray(photo).point(table * 3), pad, fill=(10, 200, 30))
    assert pad == 13 and np.array_equal(shown, np.asarray(expected))


def test_a_resized_attempt_gives_the_hand_in_the_photos_own_pixels():
    class Point:
        def __init__(self, x, y):
            self.x, self.y, self.z = x, y, 0.0

    class Graph:  # answers like MediaPipe: one hand, points normalised to the image it was shown
        def process(self, rgb):
            self.shape = rgb.shape
            points = [Point(0.5, 0.25)] * 21
            call = type("Call", (), {"label": "Left", "score": 0.9})()
            return type("Result", (), {"multi_hand_landmarks": [type("Hand", (), {"landmark": points})()],
                                       "multi_handedness": [type("Handedness", (), {"classification": [call]})()]})()

    graph, photo = Graph(), np.zeros((80, 120, 3), np.uint8)
    detection = detect_in(graph, photo, {"padding": 0.25, "scale": 0.5})
    assert graph.shape == (40 + 30, 60 + 30, 3)  # half size, then a border of a quarter of the longer side
    assert detection.image_size == (120, 80)
    assert np.allclose(detection.points[0, :2], [(0.5 * 90 - 15) / 0.5, (0.25 * 70 - 15) / 0.5])
