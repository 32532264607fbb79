"""scripts/spell.py end to end on real sample photos: a frame folder and a video that spell "HI ALL".

The model is an honest stand-in, not a trained ASL model: a small real ``asl_cnn`` (saved and loaded the way
training saves it, through ``asl_hf.inference.load_classifier``) trained here for a few seconds to memorise the 12
photos used (2 per sign: H, I, A, L, space, nothing). The test asserts it labels all of them (and every decoded
video frame) correctly before spelling, so what is tested is the spelling path (frame reading, batching, the state
machine's defaults, the output), not accuracy. Needs the real photos in ``../shared``; skipped without them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from asl_hf.spelling.frames import natural_key, open_frames
from tests.spelling_helpers import write_video

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "asl_alphabet_sample"
SCRIPT = REPO / "scripts" / "spell.py"
SIGNS = ["H", "I", "A", "L", "space", "nothing"]
PHOTOS_PER_SIGN = 2
FRAMES_PER_SIGN = 10  # at 10 fps: a 1-second hold, typed with the default settings
RELEASE_FRAMES = 4
HI_ALL = [("H", FRAMES_PER_SIGN), ("I", FRAMES_PER_SIGN), ("nothing", RELEASE_FRAMES), ("space", FRAMES_PER_SIGN),
          ("A", FRAMES_PER_SIGN), ("L", FRAMES_PER_SIGN), ("nothing", RELEASE_FRAMES), ("L", FRAMES_PER_SIGN),
          ("nothing", RELEASE_FRAMES)]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"real sample photos not found at {SAMPLE} (../shared is absent)"),
]


def sample_photos() -> dict[str, list[Path]]:
    """The first photos of each sign in file-name order (deterministic)."""
    return {sign: sorted((SAMPLE / sign).glob("*.jpg"), key=lambda p: natural_key(p.name))[:PHOTOS_PER_SIGN] for sign in SIGNS}


def train_memorising_cnn(photos: dict[str, list[Path]], output_dir: Path) -> Path:
    """A small asl_cnn fitted to these photos only (full batch, a few hundred steps, a few seconds on 2 cores)."""
    from asl_hf.core.constants import LABEL2ID
    from asl_hf.models import AslCnnConfig, AslCnnForImageClassification, build_image_processor, save_cnn

    torch.manual_seed(0)
    model = AslCnnForImageClassification(AslCnnConfig(image_size=32, conv_channels=[8, 16], hidden_size=32, dropout=0.0))
    processor = build_image_processor(model.config)
    images = [Image.open(path).convert("RGB") for paths in photos.values() for path in paths]
    labels = torch.tensor([LABEL2ID[sign] for sign, paths in photos.items() for _ in paths])
    pixels = processor(images, return_tensors="pt")["pixel_values"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(150):
        noisy = pixels + 0.05 * torch.randn_like(pixels)  # a little noise: video compression must not flip a label
        loss = torch.nn.functional.cross_entropy(model(pixel_values=noisy).logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return save_cnn(model.eval(), processor, output_dir)


@pytest.fixture(scope="module")
def spelled_inputs(tmp_path_factory):
    """The memorising model, a frame folder and a 10 fps video of the same frames, and each frame's true sign."""
    from asl_hf.inference import load_classifier

    root = tmp_path_factory.mktemp("spell")
    photos = sample_photos()
    model_dir = train_memorising_cnn(photos, root / "model")
    classifier = load_classifier(model_dir)
    for sign, paths in photos.items():
        for path, (label, probability) in zip(paths, top(classifier, [Image.open(p) for p in paths])):
            assert label == sign and probability > 0.9, f"the stand-in model did not memorise {path.name}: {label} {probability:.2f}"

    frames, truth = root / "frames", []
    frames.mkdir()
    for sign, count in HI_ALL:
        for i in range(count):
            truth.append(sign)
            shutil.copy(photos[sign][i % PHOTOS_PER_SIGN], frames / f"frame{len(truth)}.jpg")  # natural order: frame2 < frame10
    video = write_video(root / "hi_all.mp4", [Image.open(frames / f"frame{i}.jpg") for i in range(1, len(truth) + 1)], fps=10)
    decoded = [frame.image for frame in open_frames(video, fps=10).frames]
    assert [label for label, _ in top(classifier, decoded)] == truth, "the stand-in model mislabels decoded video frames"
    return {"model": model_dir, "frames": frames, "video": video, "truth": truth}


def top(classifier, images) -> list[tuple[str, float]]:
    from asl_hf.spelling.spell_frames import top_predictions

    return top_predictions(classifier, images)


def run_spell(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args, "--no_progress"], capture_output=True, text=True, env=env,
                          timeout=300, cwd=REPO)


@pytest.mark.parametrize("kind", ["frames", "video"])
def test_spells_hi_all(spelled_inputs, kind, tmp_path):
    """The stand-in model (a small asl_cnn that memorised these photos, see the module docstring) and the default
    settings: the last line of output is the text, the JSON holds each keystroke and every frame's label."""
    output = tmp_path / "spelled.json"
    result = run_spell("--model", str(spelled_inputs["model"]), str(spelled_inputs[kind]), "--output_json", str(output))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "HI ALL", result.stdout
    report = json.loads(output.read_text())
    assert report["text"] == "HI ALL" and report["num_frames"] == len(spelled_inputs["truth"])
    assert [k["label"] for k in report["keystrokes"]] == ["H", "I", "space", "A", "L", "L"]
    assert all(k["confidence"] > 0.9 for k in report["keystrokes"])
    assert [f["label"] for f in report["frames"]] == spelled_inputs["truth"]
    assert report["keystrokes"][0]["time"] == pytest.approx(0.8)  # the 9th frame of the first 1-second hold


def test_the_landmark_model_tracks_hands_quietly_and_says_so(tmp_path):
    """The hand-landmark model through scripts/spell.py: frames without a hand are 'nothing' (a release), a clear hand
    is found, the JSON says the hands were tracked (or, with --no_tracking, searched per frame), and stderr carries none
    of MediaPipe's start-up lines."""
    from asl_hf.models.asl_landmarks import AslLandmarksConfig, AslLandmarksForImageClassification, AslLandmarksImageProcessor, save_landmarks_model
    from tests.markers import mediapipe_available

    if not mediapipe_available():
        pytest.skip('MediaPipe 0.10.14 is not installed (pip install -e ".[hands]")')
    torch.manual_seed(0)
    model_dir = save_landmarks_model(AslLandmarksForImageClassification(AslLandmarksConfig(hidden_sizes=[16])), AslLandmarksImageProcessor(),
                                     tmp_path / "landmarks")
    frames = tmp_path / "frames"
    frames.mkdir()
    hand = Image.open(SAMPLE / "B" / "B1205.jpg").convert("RGB")  # a bright, whole, open hand
    for i, image in enumerate([Image.new("RGB", hand.size, (120, 120, 120))] * 3 + [hand] * 3, start=1):
        image.save(frames / f"frame{i}.png")
    from asl_hf.inference.hands import default_backend

    for flags, hands in (([], "tracked"), (["--no_tracking"], "photo")):
        output = tmp_path / f"{hands}.json"
        result = run_spell("--model", str(model_dir), str(frames), "--output_json", str(output), *flags)
        assert result.returncode == 0, result.stderr
        assert not any(line in result.stderr for line in ("XNNPACK", "Feedback manager", "W0000", "Falling back to pil")), result.stderr
        report = json.loads(output.read_text())
        assert report["hands"] == hands and report["runtime"] == "eager"
        assert report["hand_tracker"] == (default_backend() if hands == "tracked" else None)
        labels = [(frame["label"], frame["probability"]) for frame in report["frames"]]
        assert labels[:3] == [("nothing", 1.0)] * 3 and all(probability < 1.0 for _, probability in labels[3:])
