"""How well a model spells whole words: the number to quote for fingerspelling, next to per-frame accuracy.

Per-image accuracy says little about typing: one wrong frame in ten is harmless inside a hold, while a model that
is sure of the wrong letter for a second types it. This builds, for each word, the frame sequence a signer would
produce (each letter held for ``frames_per_letter`` frames, each frame a *different random photo* of that letter
from a held-out split, ``nothing`` photos between letters, a release always between double letters), runs the
model and the spelling machine on it, and counts the words typed exactly right.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from ..core.errors import AslError, DataError
from .spell_frames import top_predictions
from .machine import NOTHING_LABEL, SPACE_LABEL, SpellingMachine, SpellingSettings

DEFAULT_WORDS = ("HELLO", "ASL", "SIGN", "BOOK", "COFFEE", "APPLE", "JAZZ", "QUIZ", "THANK YOU", "HUGGING FACE")
"""A mix of short and long words, double letters (LL, OO, FF, EE, PP, ZZ, GG), the motion letters J and Z, spaces."""


def parse_words(text: str | Sequence[str]) -> list[str]:
    """Comma-separated words (or a list) in upper case; letters and spaces only, since each must be a sign."""
    items = text.split(",") if isinstance(text, str) else list(text)
    words = [" ".join(item.split()).upper() for item in items]
    if not words or any(not word for word in words):
        raise AslError(f"--words: give comma-separated words, e.g. HELLO,ASL (got {text!r})")
    for word in words:
        bad = sorted({char for char in word if not ("A" <= char <= "Z" or char == " ")})
        if bad:
            raise AslError(f"--words: {word!r} has characters that are not fingerspelled letters: {''.join(bad)!r}")
    return words


def word_signs(word: str, frames_per_letter: int, nothing_frames: int, release_frames: int) -> list[str]:
    """The true sign of every frame of ``word``: letters held, ``nothing`` between them and at the end.

    Between two identical letters there are at least ``release_frames`` ``nothing`` frames: without a release
    the machine (rightly) types a double letter once.
    """
    signs: list[str] = []
    previous = None
    for char in word:
        sign = SPACE_LABEL if char == " " else char
        if previous is not None:
            signs += [NOTHING_LABEL] * (max(nothing_frames, release_frames) if sign == previous else nothing_frames)
        signs += [sign] * frames_per_letter
        previous = sign
    return signs + [NOTHING_LABEL] * nothing_frames


def _photos_by_sign(split, source: str) -> dict[str, list[int]]:
    names = split.features["label"].names
    photos: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(split["label"]):
        photos[names[label]].append(index)
    if not photos:
        raise DataError(f"{source}: the split is empty")
    return photos


def _pick_photos(rng: np.random.Generator, signs: list[str], photos: dict[str, list[int]], source: str) -> list[int]:
    """A random photo of the right sign for every frame; within a run of one sign no photo repeats while others remain."""
    picked, start = [], 0
    while start < len(signs):
        end = start
        while end < len(signs) and signs[end] == signs[start]:
            end += 1
        candidates = photos.get(signs[start])
        if not candidates:
            raise DataError(f"{source}: no photos of {signs[start]!r}, which the words need")
        count = end - start
        picked += rng.choice(candidates, size=count, replace=count > len(candidates)).tolist()
        start = end
    return picked


@dataclass
class WordResult:
    word: str
    typed: str
    correct: bool
    num_frames: int
    frame_accuracy: float


@dataclass
class WordsReport:
    """Per-word results, the totals, and everything needed to reproduce the run."""

    words: list[WordResult]
    frame_accuracy: float
    num_frames: int
    settings: SpellingSettings
    options: dict = field(default_factory=dict)

    @property
    def words_correct(self) -> int:
        return sum(result.correct for result in self.words)

    def summary(self) -> str:
        return f"{self.words_correct} of {len(self.words)} words typed correctly"

    def to_json(self) -> dict:
        return {
            "words_correct": self.words_correct, "num_words": len(self.words), "frame_accuracy": self.frame_accuracy,
            "num_frames": self.num_frames, "settings": asdict(self.settings), **self.options,
            "words": [asdict(result) for result in self.words],
        }

    def format_table(self) -> str:
        """A Markdown table (word, typed text, correct) and the two totals."""
        lines = ["| word | typed | correct | frame accuracy |", "|---|---|---|---:|"]
        lines += [f"| {r.word} | \"{r.typed}\" | {'yes' if r.correct else 'no'} | {r.frame_accuracy:.4f} |" for r in self.words]
        lines += ["", self.summary(), f"per-frame accuracy: {self.frame_accuracy:.4f} ({self.num_frames} frames)"]
        return "\n".join(lines)


def _predict_indices(classifier, split, indices: list[int], batch_size: int, show_progress: bool) -> dict[int, tuple[str, float]]:
    """Top prediction for each distinct photo, decoded and classified ``batch_size`` at a time."""
    from tqdm.auto import tqdm

    distinct = sorted(set(indices))
    predictions = {}
    for start in tqdm(range(0, len(distinct), batch_size), desc="Classifying photos", unit="batch", disable=not show_progress):
        chunk = distinct[start : start + batch_size]
        predictions.update(zip(chunk, top_predictions(classifier, split[chunk]["image"])))
    return predictions


def spell_words(
    classifier,
    split,
    words: Sequence[str],
    frames_per_letter: int = 10,
    nothing_frames: int = 5,
    fps: float = 10.0,
    settings: SpellingSettings | None = None,
    seed: int = 0,
    batch_size: int = 32,
    source: str = "split",
    show_progress: bool = True,
) -> WordsReport:
    """Spell each word from random photos of ``split`` (a ``datasets.Dataset`` with ``image``/``label``)."""
    settings = settings or SpellingSettings()
    if frames_per_letter < 1 or nothing_frames < 0 or not fps > 0:
        raise AslError(f"frames_per_letter must be >= 1, nothing_frames >= 0 and fps > 0 (got {frames_per_letter}, {nothing_frames}, {fps})")
    unknown = sorted({sign for word in words for sign in word_signs(word, 1, 1, 1)} - set(classifier.labels))
    if unknown:
        raise AslError(f"the model has no class for {unknown} (it knows {', '.join(classifier.labels)})")
    rng = np.random.default_rng(seed)
    photos = _photos_by_sign(split, source)
    plans = []
    for word in words:
        signs = word_signs(word, frames_per_letter, nothing_frames, settings.release_frames)
        plans.append((word, signs, _pick_photos(rng, signs, photos, source)))
    predictions = _predict_indices(classifier, split, [i for _, _, picked in plans for i in picked], batch_size, show_progress)

    results, right, total = [], 0, 0
    for word, signs, picked in plans:
        machine = SpellingMachine(settings)
        labels = [predictions[i] for i in picked]
        machine.feed((label, probability, frame / fps) for frame, (label, probability) in enumerate(labels))
        hits = sum(label == sign for (label, _), sign in zip(labels, signs))
        right, total = right + hits, total + len(signs)
        results.append(WordResult(word, machine.text, machine.text == word, len(signs), round(hits / len(signs), 4)))
    options = {"frames_per_letter": frames_per_letter, "nothing_frames": nothing_frames, "fps": fps, "seed": seed, "source": source}
    return WordsReport(results, round(right / total, 4), total, settings, options)


def spell_words_from_dataset(
    classifier, dataset_dir: str | os.PathLike, split: str, words: Sequence[str], **kwargs
) -> WordsReport:
    """:func:`spell_words` on one split of a data set saved by ``scripts/prepare_data.py``."""
    from ..data import load_prepared_dataset

    splits = load_prepared_dataset(dataset_dir)
    if split not in splits:
        raise DataError(f"{dataset_dir}: no split {split!r} (it has {', '.join(splits)})")
    return spell_words(classifier, splits[split], words, source=f"{dataset_dir}[{split}]", **kwargs)


__all__ = ["DEFAULT_WORDS", "WordResult", "WordsReport", "parse_words", "spell_words", "spell_words_from_dataset", "word_signs"]
