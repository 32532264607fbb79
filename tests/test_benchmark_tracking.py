"""The tracking benchmark's plumbing: how word videos are laid out from clips, that both paths read every frame of
every video, and what the script prints and writes. Flat frames stand in for photos (no hand: the answers do not depend
on a detector's judgement); the real numbers come from running the script on real photos (docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from asl_hf.benchmark.tracking import NO_HAND_VIDEO, build_videos, run_tracking_benchmark, word_frames
from asl_hf.spelling.frames import open_frames
from tests.markers import needs_mediapipe

REPO = Path(__file__).resolve().parents[1]
LEVELS = {"A": 40, "B": 80, "L": 120, "nothing": 200}


def clips(photos: int = 3) -> dict[str, list[Image.Image]]:
    """Each sign's 'clip': ``photos`` flat frames of its own grey level (one level per photo, so order is visible)."""
    return {sign: [Image.new("RGB", (32, 32), (level + i,) * 3) for i in range(photos)] for sign, level in LEVELS.items()}


def test_a_word_is_each_letter_clip_in_order_with_nothing_between_and_a_release_between_doubles():
    frames, truth = word_frames("ALL", clips(), repeat=2, nothing_frames=1, release_frames=3)
    assert truth == ["A"] * 6 + ["nothing"] + ["L"] * 6 + ["nothing"] * 3 + ["L"] * 6 + ["nothing"]
    levels = [frame.getpixel((0, 0))[0] for frame in frames]
    assert levels[:6] == [40, 40, 41, 41, 42, 42]  # the clip in order, each photo shown twice
    assert levels[6] == 200 and levels[13:16] == [201, 202, 200]  # nothing photos go on where the last run stopped


def test_a_word_needs_photos_of_each_of_its_signs():
    with pytest.raises(Exception, match=r"no test photos of \['Z'\], which the word 'ZA' needs"):
        word_frames("ZA", clips(), 1, 1, 3)


def test_the_videos_hold_every_frame_and_the_no_hand_video_comes_last(tmp_path):
    videos = build_videos(clips(), ["AB", "LA"], tmp_path, repeat=1, nothing_frames=2, blank_frames=4)
    assert [v.word for v in videos] == ["AB", "LA", NO_HAND_VIDEO]
    assert videos[0].signs == ["A"] * 3 + [None] * 2 + ["B"] * 3 + [None] * 2
    assert videos[-1].signs == [None] * (3 + 4)  # the nothing photos and the uniform frames
    for video in videos:
        assert len(list(open_frames(video.path, 10).frames)) == len(video.signs)


@needs_mediapipe
def test_both_paths_read_every_frame_and_the_report_adds_up(tmp_path):
    from asl_hf.inference import load_classifier
    from asl_hf.models.asl_landmarks import AslLandmarksConfig, AslLandmarksForImageClassification, AslLandmarksImageProcessor, save_landmarks_model

    torch.manual_seed(0)
    folder = save_landmarks_model(AslLandmarksForImageClassification(AslLandmarksConfig(hidden_sizes=[8])), AslLandmarksImageProcessor(),
                                  tmp_path / "landmarks")
    report = run_tracking_benchmark(load_classifier(folder, device="cpu"), clips(), tmp_path / "videos", ["AB"], repeat=1,
                                    nothing_frames=2, blank_frames=2)
    for path in ("photo", "tracking"):
        row = report["paths"][path]
        # AB: A A A - - B B B - -, then 3 nothing photos + 2 uniform frames; each video's first frame is timed apart
        assert row["with_hand"]["frames"] == 3 - 1 + 3 and row["without_hand"]["frames"] == 2 + 2 + 5 - 1
        assert row["hands_found"] == 0 and row["typed"] == {"AB": ""} and row["words_correct"] == 0
    assert report["agreement"]["all_frames"] == 1.0  # no hand anywhere: both say nothing on every frame
    assert report["classifier_part"] == {}  # no hand found to time the MLP on


def test_the_script_refuses_a_pixel_model(tmp_path):
    from asl_hf.models import AslCnnConfig, AslCnnForImageClassification, build_image_processor

    model = AslCnnForImageClassification(AslCnnConfig(image_size=32, conv_channels=[8], hidden_size=8))
    model.save_pretrained(tmp_path / "cnn")
    build_image_processor(model.config).save_pretrained(tmp_path / "cnn")
    raw = tmp_path / "raw"
    for sign, level in LEVELS.items():
        (raw / sign).mkdir(parents=True)
        for i in range(10):
            Image.new("RGB", (32, 32), (level + i,) * 3).save(raw / sign / f"{sign}{i}.png")
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "benchmark_tracking.py"), "--model", str(tmp_path / "cnn"),
                             "--train_dir", str(raw), "--split_by", "random", "--words", "AB"],
                            capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == ("error: the tracking benchmark needs the hand-landmark model "
                                                      "(pixel models have no hands to track)")
