"""Reading frames to spell from (folders in natural order, videos sampled by their timestamps), the model glue,
and scripts/spell.py's settings and one-line errors, with a stand-in classifier that reads each frame's grey level."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from asl_hf.core.cli import run_cli
from asl_hf.spelling.frames import FrameInputError, natural_key, open_frames
from asl_hf.spelling.spell_frames import predict_frames, spell_frames
from asl_hf.spelling import SpellingSettings
from tests.spelling_helpers import GreyLevelClassifier, class_image, grey, write_video

REPO = Path(__file__).resolve().parents[1]


def levels(frames) -> list[int]:
    return [round(float(np.asarray(frame.image, dtype=np.float32).mean()) / 10) for frame in frames]


# --- folders ---------------------------------------------------------------------------------------------------
def test_natural_key_orders_numbers_by_value():
    names = ["frame10.png", "frame2.png", "Frame3.png", "frame1.png", "frame100.png", "a.png"]
    assert sorted(names, key=natural_key) == ["a.png", "frame1.png", "frame2.png", "Frame3.png", "frame10.png", "frame100.png"]


def test_folder_frames_in_natural_order_at_fps_other_files_ignored(tmp_path):
    for i in range(12):
        grey(10 * i).save(tmp_path / f"frame{i}.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / ".hidden.png").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    grey(255).save(tmp_path / "sub" / "frame99.png")
    source = open_frames(tmp_path, fps=4)
    frames = list(source.frames)
    assert source.kind == "folder" and source.expected_frames == 12
    assert [f.name for f in frames] == [f"frame{i}.png" for i in range(12)]
    assert levels(frames) == list(range(12)) and [f.time for f in frames] == [i / 4 for i in range(12)]
    assert all(f.image.mode == "RGB" for f in frames)


def test_folder_errors_name_the_file(tmp_path):
    with pytest.raises(FrameInputError, match=f"{tmp_path}: no frame images in this folder"):
        open_frames(tmp_path)
    grey(0).save(tmp_path / "frame1.png")
    (tmp_path / "frame2.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    frames = open_frames(tmp_path).frames
    next(frames)
    with pytest.raises(FrameInputError, match="frame2.jpg: not a readable image"):
        next(frames)


# --- videos ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("video_fps, fps, expected", [
    (10, 10, list(range(20))),
    (30, 10, [0, 3, 6, 9, 12, 15, 18]),  # 20 frames at 30 fps last 0.67 s
    (10, 5, list(range(0, 20, 2))),
    (5, 10, [i // 2 for i in range(40)]),  # each frame is on screen for two samples
])
def test_video_frames_are_sampled_by_their_timestamps(tmp_path, video_fps, fps, expected):
    path = write_video(tmp_path / "clip.mp4", [grey(10 * i) for i in range(20)], video_fps)
    source = open_frames(path, fps=fps)
    frames = list(source.frames)
    assert source.kind == "video" and source.expected_frames == pytest.approx(len(expected), abs=1)
    assert levels(frames) == expected
    assert [f.time for f in frames] == pytest.approx([i / fps for i in range(len(expected))])
    assert frames[0].name == "clip.mp4@0.00s" and frames[0].image.size == (64, 64)


@pytest.mark.parametrize("codec, suffix", [("libx264", ".mp4"), ("mjpeg", ".avi"), ("libvpx", ".webm")])
def test_other_codecs_and_containers(tmp_path, codec, suffix):
    import av

    if codec not in av.codecs_available:
        pytest.skip(f"PyAV here has no {codec} encoder")
    path = write_video(tmp_path / f"clip{suffix}", [grey(10 * i) for i in range(10)], 10, codec=codec)
    assert levels(open_frames(path).frames) == list(range(10))


def test_bad_inputs_are_one_line_errors_naming_the_file(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video at all")
    (tmp_path / "empty.mp4").write_bytes(b"")
    grey(0).save(tmp_path / "photo.jpg")
    expected = {
        "notes.mp4": "notes.mp4: not a readable video or folder of frame images",
        "empty.mp4": "empty.mp4: not a readable video or folder of frame images",
        "photo.jpg": "photo.jpg: a single image cannot spell a word",
        "absent.mp4": "absent.mp4: no such file or folder",
    }
    for name, message in expected.items():
        with pytest.raises(FrameInputError) as caught:
            open_frames(tmp_path / name)
        assert message in str(caught.value) and "\n" not in str(caught.value), name
    with pytest.raises(FrameInputError, match="fps must be positive"):
        open_frames(tmp_path, fps=0)


# --- model glue ------------------------------------------------------------------------------------------------
def spelled_images(word_parts) -> list[Image.Image]:
    return [class_image(label) for label, count in word_parts for _ in range(count)]


HI_ALL = [("H", 10), ("I", 10), ("nothing", 4), ("space", 10), ("A", 10), ("L", 10), ("nothing", 4), ("L", 10), ("nothing", 3)]


def test_spell_frames_batches_and_types(tmp_path):
    path = write_video(tmp_path / "hi_all.mp4", spelled_images(HI_ALL), 10)
    classifier = GreyLevelClassifier()
    source = open_frames(path)
    result = spell_frames(classifier, source.frames, SpellingSettings(), batch_size=16, total=source.expected_frames, show_progress=False)
    assert result.text == "HI ALL"
    assert classifier.batch_sizes == [16, 16, 16, 16, 7]
    assert classifier.streams == ["closed"]  # one stream for the video, closed at its end
    assert [k.label for k in result.keystrokes] == ["H", "I", "space", "A", "L", "L"]
    assert [p.label for p in result.predictions] == [label for label, count in HI_ALL for _ in range(count)]
    report = result.to_json()
    assert report["num_frames"] == 71 and report["keystrokes"][0] == {
        "label": "H", "time": 0.8, "start_time": 0.0, "confidence": pytest.approx(0.9), "text": "H"}


def test_spell_frames_without_tracking_opens_no_stream(tmp_path):
    classifier = GreyLevelClassifier()
    result = spell_frames(classifier, open_frames(write_video(tmp_path / "hi.mp4", spelled_images(HI_ALL[:2]), 10)).frames,
                          show_progress=False, track_hands=False)
    assert result.text == "HI" and classifier.streams == []


def test_predict_frames_reads_lazily():
    def frames():
        for i in range(100):
            if i == 5:
                raise AssertionError("read past the first batch")
            yield type("F", (), {"image": grey(4), "time": i / 10, "name": str(i)})()

    first = next(predict_frames(GreyLevelClassifier(), frames(), batch_size=4))
    assert first.label == "A" and first.probability == pytest.approx(0.9)


# --- scripts/spell.py ------------------------------------------------------------------------------------------
def spell_script():
    spec = importlib.util.spec_from_file_location("spell_script", REPO / "scripts" / "spell.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_spells_a_folder_with_a_stand_in_model(tmp_path, monkeypatch, capsys):
    import asl_hf.inference

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, image in enumerate(spelled_images(HI_ALL), start=1):
        image.save(folder / f"frame{i}.png")  # frame2 < frame10 only in natural order
    monkeypatch.setattr(asl_hf.inference, "load_classifier", lambda *args, **kwargs: GreyLevelClassifier())
    output = tmp_path / "out" / "spelled.json"
    assert run_cli(spell_script().main, ["--model", "stand-in", str(folder), "--no_progress", "--output_json", str(output)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "HI ALL"
    report = json.loads(output.read_text())
    assert report["text"] == "HI ALL" and report["settings"]["hold_seconds"] == 0.8 and report["fps"] == 10
    assert report["runtime"] == "eager" and report["hands"] is None  # a pixel model: no hands to track
    assert [k["label"] for k in report["keystrokes"]] == ["H", "I", "space", "A", "L", "L"]
    assert report["frames"][1]["name"] == "frame2.png"

    # --hold_frames 12 at 10 fps needs 12 frames: every 10-frame hold is too short.
    assert run_cli(spell_script().main, ["--model", "stand-in", str(folder), "--no_progress", "--hold_frames", "12"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == ""


def test_script_one_line_errors(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert run_cli(spell_script().main, ["--model", "unused", str(tmp_path / "notes.txt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'notes.txt'}: not a readable video") and err.count("\n") == 1


@pytest.mark.parametrize("flags, message", [
    (["--threshold", "2"], "threshold must be between 0 and 1"),
    (["--hold_frames", "0"], "hold_frames must be >= 1"),
    (["--fps", "0"], "--fps must be positive"),
    (["--hold_frames", "3", "--hold_seconds", "1"], "not allowed with argument"),
])
def test_script_rejects_bad_settings(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as caught:
        spell_script().parse_args(["--model", "m", str(tmp_path), *flags])
    assert caught.value.code == 2 and message in capsys.readouterr().err
