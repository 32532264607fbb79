"""Test helpers for spelling: small videos written with PyAV (the library ``asl_hf.frames`` decodes with), flat
frames whose grey level names a class, and a stand-in classifier that reads it back."""

from __future__ import annotations

import contextlib

import numpy as np
from PIL import Image

from asl_hf.core.constants import CLASS_NAMES
from asl_hf.spelling.frames import write_video  # noqa: F401 - the tests' video writer is the package's


def grey(value: int, size: int = 64) -> Image.Image:
    return Image.new("RGB", (size, size), (value, value, value))


def class_image(label: str) -> Image.Image:
    """A flat grey frame whose level names a class (8 levels apart: survives video compression)."""
    return grey(8 * CLASS_NAMES.index(label) + 4)


class GreyLevelClassifier:
    """A stand-in for ``ImageClassifier``: the class is read from the frame's mean grey level, probability 0.9."""

    labels = CLASS_NAMES
    runtime = "eager"
    detects_hands = False

    def __init__(self):
        self.batch_sizes = []
        self.streams = []

    @contextlib.contextmanager
    def stream(self):
        """Like ``ImageClassifier.stream()`` for a pixel model: the frames are classified as photos; records each
        stream's state (open / closed) so tests can check that streams are closed."""
        self.streams.append("open")
        try:
            yield self
        finally:
            self.streams[-1] = "closed"

    def predict_proba(self, images):
        self.batch_sizes.append(len(images))
        out = np.full((len(images), len(self.labels)), 0.1 / (len(self.labels) - 1), dtype=np.float32)
        for row, image in zip(out, images):
            row[min(len(self.labels) - 1, max(0, round((np.asarray(image, dtype=np.float32).mean() - 4) / 8)))] = 0.9
        return out
