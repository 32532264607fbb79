"""Videos of fingerspelled words built from real photos, spelled by the hand-landmark model with the photo path
(every frame searched as a new photo) and with tracking (MediaPipe's video mode): time per frame with and without a
hand, how often the two paths name the same sign, and how many words each types right.

The photos are held-out test photos of a grouped split (``--split_by group``): each class's test photos are one block
of consecutive video frames of the same signer, so in frame order they are a short clip of that letter. A word's video
holds each letter's clip (each photo shown ``repeat`` frames), ``nothing`` photos between letters (a release between
double letters, as :func:`~asl_hf.spelling.words.word_signs` lays them out) and at the end; it is written as an mp4
with PyAV and read back with :func:`~asl_hf.spelling.frames.open_frames`, so the frames are the ones ``scripts/spell.py``
sees. A last video holds frames without a hand: ``nothing`` photos and uniform frames.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image

from ..core.errors import AslError
from ..spelling.frames import open_frames, write_video
from ..spelling.machine import NOTHING_LABEL, SpellingMachine, SpellingSettings
from ..spelling.words import DEFAULT_WORDS, word_signs
from .measure import percentile

PATHS = ("photo", "tracking")
NO_HAND_VIDEO = "(no hand)"
FPS = 10.0


@dataclass
class WordVideo:
    """One video: its name (the word), the mp4, and the true sign of every frame (``None``: a frame without a hand)."""

    word: str
    path: Path
    signs: list[str | None]


@dataclass
class FrameTiming:
    """One frame through one path: milliseconds, whether a hand was found, the top label and its probability."""

    ms: float
    hand_found: bool
    label: str
    probability: float


@dataclass
class PathRun:
    """One video through one path: every frame after the first (the first also starts the stream) and the typed text."""

    word: str
    first_frame_ms: float
    frames: list[FrameTiming] = field(default_factory=list)
    text: str = ""


# --- Building the videos ------------------------------------------------------------------------------------------
def split_clips(split) -> dict[str, list[Image.Image]]:
    """Each class's photos of ``split`` (a ``datasets`` split with ``image``/``label``) in frame-number order."""
    from ..data.loading import file_names
    from ..data.splitting import frame_number

    names = split.features["label"].names
    rows = defaultdict(list)
    for index, (name, label) in enumerate(zip(file_names(split), split["label"])):
        rows[names[label]].append((frame_number(name) or 0, name, index))
    return {label: [split[index]["image"].convert("RGB") for _, _, index in sorted(found)] for label, found in rows.items()}


def _clip_frames(clip: list[Image.Image], count: int, repeat: int, start: int = 0) -> list[Image.Image]:
    """``count`` frames from ``clip`` in order, each photo shown ``repeat`` times, from photo ``start`` on (cycling)."""
    return [clip[(start + i // repeat) % len(clip)] for i in range(count)]


def word_frames(word: str, clips: dict[str, list[Image.Image]], repeat: int, nothing_frames: int,
                release_frames: int) -> tuple[list[Image.Image], list[str]]:
    """A word's frames (each letter's whole clip, ``nothing`` photos between and after) and their true signs."""
    missing = sorted({sign for sign in word_signs(word, 1, 1, 1) if sign not in clips})
    if missing:
        raise AslError(f"no test photos of {missing}, which the word {word!r} needs")
    per_letter = {sign: len(clip) * repeat for sign, clip in clips.items()}
    signs = word_signs(word, 1, nothing_frames, release_frames)
    frames, truth, used_nothing, start = [], [], 0, 0
    while start < len(signs):  # runs of one sign: a letter's clip, or the next nothing photos
        end = start
        while end < len(signs) and signs[end] == signs[start]:
            end += 1
        sign = signs[start]
        if sign == NOTHING_LABEL:
            frames += _clip_frames(clips[sign], end - start, 1, used_nothing)
            used_nothing += end - start
        else:
            frames += _clip_frames(clips[sign], per_letter[sign], repeat)
        truth += [sign] * (len(frames) - len(truth))
        start = end
    return frames, truth


def no_hand_frames(clips: dict[str, list[Image.Image]], blank_frames: int) -> list[Image.Image]:
    """Frames without a hand: every ``nothing`` photo, then ``blank_frames`` uniform frames of several grey levels."""
    size = clips[NOTHING_LABEL][0].size
    blanks = [Image.new("RGB", size, (v, v, v)) for v in (20, 60, 110, 160, 210, 245)]
    return list(clips[NOTHING_LABEL]) + [blanks[i % len(blanks)] for i in range(blank_frames)]


def build_videos(clips: dict[str, list[Image.Image]], words: list[str], folder: str | os.PathLike, repeat: int = 2,
                 nothing_frames: int = 5, release_frames: int = 3, blank_frames: int = 30) -> list[WordVideo]:
    """Write each word's video and the no-hand video as mp4 files in ``folder``; returns them with their truth."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    videos = []
    for word in words:
        frames, truth = word_frames(word, clips, repeat, nothing_frames, release_frames)
        path = write_video(folder / f"{word.replace(' ', '_')}.mp4", frames, FPS)
        videos.append(WordVideo(word, path, [None if sign == NOTHING_LABEL else sign for sign in truth]))
    frames = no_hand_frames(clips, blank_frames)
    videos.append(WordVideo(NO_HAND_VIDEO, write_video(folder / "no_hand.mp4", frames, FPS), [None] * len(frames)))
    return videos


# --- Running the paths --------------------------------------------------------------------------------------------
def _timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return (time.perf_counter() - start) * 1000.0, result


def run_path(classifier, video: WordVideo, path: str, settings: SpellingSettings, tracker_options: dict | None = None) -> PathRun:
    """Every frame of ``video`` through ``path`` (``photo``: ``predict_with_hands``, as for unrelated photos;
    ``tracking``: one ``classifier.stream()`` for the video), timed one frame at a time, and the spelling machine
    over the answers, as ``scripts/spell.py`` runs it."""
    if path not in PATHS:
        raise AslError(f"unknown path {path!r} (one of {', '.join(PATHS)})")
    images = [frame.image for frame in open_frames(video.path, FPS).frames]
    machine = SpellingMachine(settings)
    run = PathRun(video.word, 0.0)
    with classifier.stream(**(tracker_options or {})) if path == "tracking" else _NoStream(classifier) as stream:
        for index, image in enumerate(images):
            ms, prediction = _timed(lambda: stream.predict(image, top_k=1))
            label, probability = prediction.top[0]
            machine.update(label, probability, index / FPS)
            if index == 0:
                run.first_frame_ms = ms
            else:
                run.frames.append(FrameTiming(ms, bool(prediction.hand_found), label, probability))
    run.text = machine.text
    return run


class _NoStream:
    """The photo path with a stream's ``predict``: every frame searched as an unrelated photo."""

    def __init__(self, classifier):
        self.classifier = classifier

    def predict(self, image, top_k: int = 5):
        return self.classifier.predict_with_hands([image], top_k)[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def classifier_part_ms(classifier, images: list[Image.Image], runs: int = 200) -> dict:
    """Milliseconds of the landmark model's MLP alone at batch 1 (normalise + forward + softmax), on hands the photo
    path found in ``images``: the part that is not MediaPipe."""
    import torch

    detections = [d for d in classifier.find_hands(images[:20]) if d is not None]
    if not detections:
        return {}
    timings = []
    with torch.inference_mode():
        for i in range(runs + 20):
            ms, _ = _timed(lambda: classifier.logits_of(classifier.landmark_inputs([detections[i % len(detections)]])).softmax(-1))
            if i >= 20:
                timings.append(ms)
    return summary(timings)


# --- Summaries ----------------------------------------------------------------------------------------------------
def summary(values: list[float]) -> dict:
    if not values:
        return {"frames": 0}
    return {"frames": len(values), "median_ms": round(statistics.median(values), 3), "p90_ms": round(percentile(values, 0.9), 3),
            "mean_ms": round(statistics.fmean(values), 3)}


def path_report(runs: list[PathRun], videos: list[WordVideo]) -> dict:
    """Per-frame time with and without a hand (by the truth, not by what was found), hands found, per-frame accuracy,
    words typed right."""
    truth = {video.word: video.signs[1:] for video in videos}
    with_hand, without, found, right, total = [], [], 0, 0, 0
    for run in runs:
        for frame, sign in zip(run.frames, truth[run.word]):
            (with_hand if sign is not None else without).append(frame.ms)
            found += frame.hand_found and sign is not None
            right += frame.label == (sign or NOTHING_LABEL)
            total += 1
    words = [run for run in runs if run.word != NO_HAND_VIDEO]
    return {
        "with_hand": summary(with_hand), "without_hand": summary(without),
        "first_frame_ms": round(statistics.median(run.first_frame_ms for run in runs), 3),
        "hands_found": found, "hand_frames": len(with_hand), "frame_accuracy": round(right / max(1, total), 4),
        "words_correct": sum(run.text == run.word for run in words), "num_words": len(words),
        "typed": {run.word: run.text for run in words},
    }


def agreement(first: list[PathRun], second: list[PathRun], videos: list[WordVideo]) -> dict:
    """How often two paths give the same top label on the same frame: all frames, and frames of a letter."""
    truth = {video.word: video.signs[1:] for video in videos}
    same = same_hand = hand_frames = total = 0
    for a, b in zip(first, second):
        for x, y, sign in zip(a.frames, b.frames, truth[a.word]):
            same += x.label == y.label
            total += 1
            if sign is not None:
                same_hand += x.label == y.label
                hand_frames += 1
    return {"all_frames": round(same / max(1, total), 4), "letter_frames": round(same_hand / max(1, hand_frames), 4),
            "frames": total}


def run_tracking_benchmark(classifier, clips: dict[str, list[Image.Image]], folder: str | os.PathLike,
                           words: list[str] | None = None, repeat: int = 2, nothing_frames: int = 5, blank_frames: int = 30,
                           settings: SpellingSettings | None = None, tracker_options: dict | None = None,
                           paths: tuple[str, ...] = PATHS) -> dict:
    """Build the videos, run both paths over each, and return the report (``format_tracking_table`` prints it);
    ``tracker_options`` go to the tracking path's :class:`~asl_hf.inference.hands.HandTracker`; ``paths``: which of
    :data:`PATHS` to run (the agreement needs both)."""
    if not classifier.detects_hands:
        raise AslError("the tracking benchmark needs the hand-landmark model (pixel models have no hands to track)")
    settings = settings or SpellingSettings()
    words = list(words or DEFAULT_WORDS)
    videos = build_videos(clips, words, folder, repeat, nothing_frames, settings.release_frames, blank_frames)
    classifier.predict_with_hands([clips[NOTHING_LABEL][0]])  # the photo path's graphs start before any timing
    runs = {path: [run_path(classifier, video, path, settings, tracker_options) for video in videos] for path in paths}
    letters = [image for sign, clip in clips.items() if sign != NOTHING_LABEL for image in clip[:1]]
    return {
        "videos": [{"word": v.word, "file": str(v.path), "frames": len(v.signs)} for v in videos],
        "options": {"repeat": repeat, "nothing_frames": nothing_frames, "blank_frames": blank_frames, "fps": FPS,
                    "settings": asdict(settings), "tracker_options": tracker_options or {}},
        "paths": {path: path_report(path_runs, videos) for path, path_runs in runs.items()},
        "agreement": agreement(runs["photo"], runs["tracking"], videos) if set(PATHS) <= set(runs) else None,
        "classifier_part": classifier_part_ms(classifier, letters),
    }


def format_tracking_table(report: dict) -> str:
    """Markdown: ms per frame with and without a hand per path, hands found, accuracy, words typed; then agreement."""
    lines = ["| path | with a hand: median ms (p90) | without a hand: median ms (p90) | first frame ms | hands found | "
             "per-frame accuracy | words typed right |", "|---|---:|---:|---:|---:|---:|---:|"]
    for path, row in report["paths"].items():
        lines.append(
            f"| {path} | {row['with_hand']['median_ms']:.1f} ({row['with_hand']['p90_ms']:.1f}) | "
            f"{row['without_hand']['median_ms']:.1f} ({row['without_hand']['p90_ms']:.1f}) | {row['first_frame_ms']:.0f} | "
            f"{row['hands_found']} of {row['hand_frames']} | {row['frame_accuracy']:.2%} | {row['words_correct']} of {row['num_words']} |")
    agree = report.get("agreement")
    if agree:
        lines += ["", f"Same top label, tracking vs photo path: {agree['all_frames']:.2%} of {agree['frames']} frames "
                      f"({agree['letter_frames']:.2%} of the letter frames)."]
    part = report.get("classifier_part") or {}
    if part.get("frames"):
        lines.append(f"The landmark MLP alone (batch 1): median {part['median_ms']:.3f} ms (p90 {part['p90_ms']:.3f}).")
    typed = {path: row["typed"] for path, row in report["paths"].items()}
    lines += ["", "| word | " + " | ".join(f"typed ({path})" for path in typed) + " |", "|---|" + "---|" * len(typed)]
    for word in next(iter(typed.values())):
        lines.append(f"| {word} | " + " | ".join(f'"{typed[path][word]}"' for path in typed) + " |")
    return "\n".join(lines)


__all__ = [
    "NO_HAND_VIDEO", "PATHS", "PathRun", "WordVideo", "agreement", "build_videos", "classifier_part_ms", "format_tracking_table",
    "no_hand_frames", "path_report", "run_path", "run_tracking_benchmark", "split_clips", "word_frames",
]
