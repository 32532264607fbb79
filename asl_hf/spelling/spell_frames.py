"""Spelling with a model: frames -> batched per-frame predictions -> :class:`~asl_hf.spelling.SpellingMachine`.

The glue between the model-free state machine (``asl_hf.spelling``), the frame readers (``asl_hf.frames``) and the
one inference path (``asl_hf.inference``), plus the command-line settings ``scripts/spell.py`` and
``scripts/spell_words.py`` share, so both scripts name and check them the same way.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice

from .frames import DEFAULT_FPS, Frame
from .machine import Keystroke, SpellingMachine, SpellingSettings, hold_seconds_from_frames


@dataclass(frozen=True)
class FramePrediction:
    """The model's top label for one frame, with its probability and the frame's time and name."""

    time: float
    name: str
    label: str
    probability: float


@dataclass
class SpellResult:
    """What a run typed, keystroke by keystroke, and every frame's prediction (for tuning the settings)."""

    text: str
    keystrokes: list[Keystroke]
    predictions: list[FramePrediction] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "num_frames": len(self.predictions),
            "keystrokes": [asdict(k) for k in self.keystrokes],
            "frames": [asdict(p) for p in self.predictions],
        }


def top_predictions(classifier, images: list) -> list[tuple[str, float]]:
    """``(label, probability)`` of the most likely class of each image, via ``predict_proba`` (batched inside);
    ``classifier`` may be a classifier or one of its streams (``classifier.stream()``)."""
    probabilities = classifier.predict_proba(images)
    ids = probabilities.argmax(axis=1)
    return [(classifier.labels[i], float(row[i])) for i, row in zip(ids.tolist(), probabilities)]


def predict_frames(classifier, frames: Iterable[Frame], batch_size: int = 32) -> Iterator[FramePrediction]:
    """Classify frames ``batch_size`` at a time, yielding as each batch finishes (frames are read lazily); give a
    stream (``classifier.stream()``) for the frames of one video."""
    frames = iter(frames)
    while batch := list(islice(frames, batch_size)):
        for frame, (label, probability) in zip(batch, top_predictions(classifier, [f.image for f in batch])):
            yield FramePrediction(round(frame.time, 6), frame.name, label, round(probability, 6))


def spell_frames(
    classifier,
    frames: Iterable[Frame],
    settings: SpellingSettings | None = None,
    batch_size: int = 32,
    total: int | None = None,
    show_progress: bool = True,
    track_hands: bool = True,
) -> SpellResult:
    """Run the spelling machine over the model's predictions for ``frames`` (a tqdm bar over ``total`` frames).

    The frames are one video in order, so they go through one ``classifier.stream()``: a hand-landmark model tracks
    the hand from frame to frame. ``track_hands=False`` classifies every frame as an unrelated photo instead (the
    photo path: up to eight detection attempts on a frame without a found hand)."""
    from tqdm.auto import tqdm

    machine = SpellingMachine(settings or SpellingSettings())
    predictions = []
    with classifier.stream() if track_hands else contextlib.nullcontext(classifier) as source:
        for prediction in tqdm(predict_frames(source, frames, batch_size), total=total, unit="frame",
                               desc="Spelling", disable=not show_progress):
            predictions.append(prediction)
            machine.update(prediction.label, prediction.probability, prediction.time)
    return SpellResult(machine.text, list(machine.keystrokes), predictions)


# --- Command-line settings --------------------------------------------------------------------------------------
def add_spelling_arguments(parser: argparse.ArgumentParser) -> None:
    """The state machine's settings as flags (defaults from :class:`SpellingSettings`) and the frame rate."""
    defaults = SpellingSettings()
    group = parser.add_argument_group("spelling (see asl_hf/spelling.py)")
    group.add_argument("--fps", type=float, default=DEFAULT_FPS,
                       help=f"frames per second: a video is sampled at this rate, folder frames are this far apart (default: {DEFAULT_FPS:g})")
    hold = group.add_mutually_exclusive_group()
    hold.add_argument("--hold_seconds", type=float, default=None,
                      help=f"a sign is typed once held this long, first frame to current one (default: {defaults.hold_seconds:g})")
    hold.add_argument("--hold_frames", type=int, default=None,
                      help="a sign is typed on its Nth frame: --hold_seconds (N - 1) / --fps "
                           f"(the default is {defaults.hold_seconds * DEFAULT_FPS + 1:g} at {DEFAULT_FPS:g} fps)")
    group.add_argument("--threshold", type=float, default=defaults.threshold,
                       help=f"frames whose top probability is lower count as 'no sign' (default: {defaults.threshold:g})")
    group.add_argument("--release_frames", type=int, default=defaults.release_frames,
                       help=f"'nothing' / no-sign frames in a row that let go of a sign, so it can be typed again (default: {defaults.release_frames})")
    group.add_argument("--flicker_frames", type=int, default=defaults.flicker_frames,
                       help=f"frames in a row of another label that a hold ignores (default: {defaults.flicker_frames})")
    group.add_argument("--max_gap_seconds", type=float, default=defaults.max_gap_seconds,
                       help=f"a longer gap between frames counts as letting go; 0: never (default: {defaults.max_gap_seconds:g})")


def settings_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> SpellingSettings:
    """:class:`SpellingSettings` from the flags of :func:`add_spelling_arguments`; bad values are parser errors."""
    if not args.fps > 0:
        parser.error(f"--fps must be positive, got {args.fps:g}")
    try:
        hold = hold_seconds_from_frames(args.hold_frames, args.fps) if args.hold_frames is not None else args.hold_seconds
        extra = {} if hold is None else {"hold_seconds": hold}
        return SpellingSettings(threshold=args.threshold, release_frames=args.release_frames, flicker_frames=args.flicker_frames,
                                max_gap_seconds=args.max_gap_seconds or None, **extra)
    except ValueError as error:
        parser.error(str(error))


__all__ = ["FramePrediction", "SpellResult", "add_spelling_arguments", "predict_frames", "settings_from_args", "spell_frames", "top_predictions"]
