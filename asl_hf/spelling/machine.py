"""Fingerspelling as typing: a stream of per-frame predictions in, committed text out.

A classifier names the sign in one frame; spelling a word needs more than that. A hand moving from one letter to
the next passes through shapes that look like other letters, so a letter counts only once it has been *held*;
the same letter twice (the L's of "ALL") needs the hand to *let go* in between, or a long hold would type it
over and over; and a misread frame or two must neither type anything nor break a hold.

:class:`SpellingMachine` is that rule and nothing else: no model, no torch, no UI, only the standard library. The
command line (``scripts/spell.py``), the word benchmark (``asl_hf.spelling_eval``) and the Space all use it; the
Space does not install ``asl_hf``, so ``asl_hf.hub.push_space`` copies this file into it as ``spelling.py``.
Keep it importable on its own (no relative imports).

The rules, with the settings of :class:`SpellingSettings`:

- A frame is a *sign* frame when its top label is a letter, ``space`` or ``del`` with probability at least
  ``threshold``. Anything else (``nothing``, ``None`` for "no hand", or a low probability) is a *release* frame.
- A sign is typed on the first frame showing it that comes ``hold_seconds`` or more after its hold began.
  At 10 frames per second the defaults type a steadily held letter on its 9th frame: a 1-second hold types it once.
- ``release_frames`` release frames in a row are a *release*: they end the hold and allow the same sign again.
  Without a release the sign just typed is not typed again, however long it is held.
- Up to ``flicker_frames`` frames in a row that disagree with the held sign are ignored: the hold goes on.
  The sign must still be the top label on most (more than half) of the hold's frames to be typed, so a model
  that keeps wavering between two labels types neither.
- A gap of more than ``max_gap_seconds`` between frames counts as a release (the hand was not seen).
- ``space`` types a space, ``del`` deletes the last character (nothing on empty text), ``nothing`` types nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

NOTHING_LABEL = "nothing"
SPACE_LABEL = "space"
DELETE_LABEL = "del"
TIME_TOLERANCE = 1e-6
"""Seconds: frame times such as ``8 * 0.1`` land a hair below 0.8, and must still complete a 0.8 s hold."""


@dataclass(frozen=True)
class SpellingSettings:
    """How long a sign must be held, how sure the model must be, and what counts as letting go."""

    hold_seconds: float = 0.8
    """A sign is typed once it has been held this long (measured from its first frame to the current one)."""
    threshold: float = 0.5
    """Frames whose top probability is below this are release frames: the model is not sure of any sign."""
    release_frames: int = 3
    """Release frames in a row that make a release (one more than ``flicker_frames``: a release is not a flicker)."""
    flicker_frames: int = 2
    """Frames in a row of another label (or a release frame) that a hold ignores."""
    max_gap_seconds: float | None = 1.0
    """A longer gap between two frames counts as a release; ``None``: gaps never do."""

    def __post_init__(self) -> None:
        """Refuse values that would make the machine silently never (or always) type."""
        problems = []
        if not (math.isfinite(self.hold_seconds) and self.hold_seconds >= 0):
            problems.append(f"hold_seconds must be >= 0, got {self.hold_seconds!r}")
        if not 0.0 <= self.threshold <= 1.0:
            problems.append(f"threshold must be between 0 and 1, got {self.threshold!r}")
        if not (isinstance(self.release_frames, int) and self.release_frames >= 1):
            problems.append(f"release_frames must be an integer >= 1, got {self.release_frames!r}")
        if not (isinstance(self.flicker_frames, int) and self.flicker_frames >= 0):
            problems.append(f"flicker_frames must be an integer >= 0, got {self.flicker_frames!r}")
        if self.max_gap_seconds is not None and not self.max_gap_seconds > 0:
            problems.append(f"max_gap_seconds must be > 0 or None, got {self.max_gap_seconds!r}")
        if problems:
            raise ValueError("; ".join(problems))


def hold_seconds_from_frames(hold_frames: int, fps: float) -> float:
    """The ``hold_seconds`` that types a sign on its ``hold_frames``-th frame at ``fps`` frames per second
    (the hold is measured from the first frame's time, so N frames span N - 1 frame intervals)."""
    if hold_frames < 1 or fps <= 0:
        raise ValueError(f"hold_frames must be >= 1 and fps > 0, got {hold_frames!r} and {fps!r}")
    return (hold_frames - 1) / fps


@dataclass(frozen=True)
class Keystroke:
    """One typed sign: what it was, when its hold began and ended, and how sure the model was on average."""

    label: str
    time: float
    """Time of the frame that typed it."""
    start_time: float
    """Time of the hold's first frame."""
    confidence: float
    """Mean top probability over the frames of the hold that showed this sign."""
    text: str
    """The whole text right after this keystroke."""


@dataclass(frozen=True)
class HeldSign:
    """What a UI draws while a sign is held: the label, how far the hold is (0..1) and whether it is typed."""

    label: str
    progress: float
    typed: bool
    """Already typed by this hold: a release is needed to type it again."""


@dataclass
class _Run:
    """The latest run of identical frame values, so a new hold can start where its run started."""

    sign: str | None = None
    start: float = 0.0
    length: int = 0
    score_sum: float = 0.0


@dataclass
class SpellingMachine:
    """Turns ``update(label, probability, time)`` calls, one per frame, into :attr:`text`.

    Per-session state only (no globals), so one machine per video or per webcam session.
    """

    settings: SpellingSettings = field(default_factory=SpellingSettings)
    keystrokes: list[Keystroke] = field(default_factory=list)
    _characters: list[str] = field(default_factory=list, repr=False)
    _held: str | None = field(default=None, repr=False)
    _held_since: float = field(default=0.0, repr=False)
    _held_scores: tuple[float, int] = field(default=(0.0, 0), repr=False)
    """Sum of probabilities and count of the hold's frames that showed the held sign."""
    _held_frames: int = field(default=0, repr=False)
    """All frames since the hold began, flickers included."""
    _misses: int = field(default=0, repr=False)
    _typed: str | None = field(default=None, repr=False)
    _run: _Run = field(default_factory=_Run, repr=False)
    _last_time: float | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        """Everything typed so far."""
        return "".join(self._characters)

    @property
    def held(self) -> HeldSign | None:
        """The sign being held right now and its progress, or ``None`` between signs."""
        if self._held is None or self._last_time is None:
            return None
        hold = self.settings.hold_seconds
        elapsed = self._last_time - self._held_since
        progress = 1.0 if hold <= 0 else min(1.0, max(0.0, (elapsed + TIME_TOLERANCE) / hold))
        return HeldSign(self._held, round(progress, 4), self._held == self._typed)

    def reset(self) -> None:
        """Forget the text and any hold; keep the settings."""
        self.__init__(settings=self.settings)

    def update(self, label: str | None, probability: float, time: float) -> Keystroke | None:
        """Feed one frame's top prediction (``None``: no hand seen); returns the keystroke it typed, if any."""
        time, probability = self._check_time(time), float(probability)
        sign = self.sign_of(label, probability)
        if self._last_time is not None and self._is_gap(time):
            self._release()
            self._run = _Run()  # the frames before the gap are not part of any new hold
        self._extend_run(sign, probability, time)
        if sign is None and self._run.length >= self.settings.release_frames:
            self._release()
        elif sign == self._held:
            self._misses = 0
            self._held_frames += 1
            if sign is not None:
                total, count = self._held_scores
                self._held_scores = (total + probability, count + 1)
        else:
            self._miss()
        self._last_time = time
        return self._maybe_type(sign, time)

    def feed(self, predictions: Iterable[tuple[str | None, float, float]]) -> list[Keystroke]:
        """``update`` for each ``(label, probability, time)``; returns the keystrokes typed by them."""
        typed = (self.update(label, probability, time) for label, probability, time in predictions)
        return [keystroke for keystroke in typed if keystroke is not None]

    def sign_of(self, label: str | None, probability: float) -> str | None:
        """The sign a frame shows, or ``None`` for a release frame (no hand, ``nothing``, or not sure enough)."""
        if label is None or label == NOTHING_LABEL or probability < self.settings.threshold:
            return None
        return str(label)

    # --- the steps of one update ---------------------------------------------------------------------------------
    def _check_time(self, time: float) -> float:
        """Frame times must be finite and never go back: a hold is measured between them."""
        time = float(time)
        if not math.isfinite(time):
            raise ValueError(f"frame time must be a finite number of seconds, got {time!r}")
        if self._last_time is not None and time < self._last_time:
            raise ValueError(f"frame times must not decrease: {time} after {self._last_time}")
        return time

    def _is_gap(self, time: float) -> bool:
        """Whether so much time passed since the last frame that the hand cannot be assumed to have stayed."""
        limit = self.settings.max_gap_seconds
        return limit is not None and time - self._last_time > limit + TIME_TOLERANCE

    def _extend_run(self, sign: str | None, probability: float, time: float) -> None:
        """Count identical frames in a row (and their scores), so a new hold starts at its run's first frame."""
        if self._run.length and self._run.sign == sign:
            self._run.length += 1
            self._run.score_sum += probability
        else:
            self._run = _Run(sign=sign, start=time, length=1, score_sum=probability)

    def _release(self) -> None:
        """The hand let go: no hold, and the sign just typed may be typed again."""
        self._held, self._typed, self._misses = None, None, 0
        self._held_scores, self._held_frames = (0.0, 0), 0

    def _miss(self) -> None:
        """A frame that disagrees with the hold: a flicker is ignored, more than that starts the frame's own run."""
        self._misses += 1
        self._held_frames += 1
        if self._held is None or self._misses > self.settings.flicker_frames:
            self._held, self._held_since, self._misses = self._run.sign, self._run.start, 0
            self._held_scores = (self._run.score_sum, self._run.length) if self._run.sign is not None else (0.0, 0)
            self._held_frames = self._run.length

    def _maybe_type(self, sign: str | None, time: float) -> Keystroke | None:
        """Type the held sign on a frame that shows it, once the hold is long enough and it was not typed yet."""
        if sign is None or sign != self._held or sign == self._typed:
            return None
        total, count = self._held_scores
        if time - self._held_since + TIME_TOLERANCE < self.settings.hold_seconds or 2 * count <= self._held_frames:
            return None
        self._typed = sign
        self._apply(sign)
        keystroke = Keystroke(sign, time, self._held_since, round(total / max(count, 1), 6), self.text)
        self.keystrokes.append(keystroke)
        return keystroke

    def _apply(self, sign: str) -> None:
        """Change the text: a space, a deletion, or the label itself (a letter)."""
        if sign == SPACE_LABEL:
            self._characters.append(" ")
        elif sign == DELETE_LABEL:
            if self._characters:
                self._characters.pop()
        else:
            self._characters.append(sign)


def spell(predictions: Iterable[tuple[str | None, float, float]], settings: SpellingSettings | None = None) -> str:
    """The text a whole sequence of ``(label, probability, time)`` frames types."""
    machine = SpellingMachine(settings or SpellingSettings())
    machine.feed(predictions)
    return machine.text


__all__ = [
    "DELETE_LABEL",
    "HeldSign",
    "Keystroke",
    "NOTHING_LABEL",
    "SPACE_LABEL",
    "SpellingMachine",
    "SpellingSettings",
    "hold_seconds_from_frames",
    "spell",
]
