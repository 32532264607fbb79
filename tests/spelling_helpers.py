"""Test helpers for spelling: small videos written with PyAV (the library ``asl_hf.frames`` decodes with), flat
frames whose grey level names a class, and a stand-in classifier that reads it back."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from asl_hf.core.constants import CLASS_NAMES


def write_video(path: Path, images: Sequence[Image.Image], fps: float, codec: str = "mpeg4", bit_rate: int = 4_000_000) -> Path:
    """Encode ``images`` (same even size) as a video at ``fps``, frame ``i`` at ``i / fps`` seconds."""
    import av

    width, height = images[0].size
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"  # MJPEG wants full-range YUV
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = width, height, pix_fmt, bit_rate
        for image in images:  # the encoder numbers the frames: frame i gets pts i in the 1/fps time base
            container.mux(stream.encode(av.VideoFrame.from_image(image.convert("RGB"))))
        container.mux(stream.encode(None))
    return path


def grey(value: int, size: int = 64) -> Image.Image:
    return Image.new("RGB", (size, size), (value, value, value))


def class_image(label: str) -> Image.Image:
    """A flat grey frame whose level names a class (8 levels apart: survives video compression)."""
    return grey(8 * CLASS_NAMES.index(label) + 4)


class GreyLevelClassifier:
    """A stand-in for ``ImageClassifier``: the class is read from the frame's mean grey level, probability 0.9."""

    labels = CLASS_NAMES

    def __init__(self):
        self.batch_sizes = []

    def predict_proba(self, images):
        self.batch_sizes.append(len(images))
        out = np.full((len(images), len(self.labels)), 0.1 / (len(self.labels) - 1), dtype=np.float32)
        for row, image in zip(out, images):
            row[min(len(self.labels) - 1, max(0, round((np.asarray(image, dtype=np.float32).mean() - 4) / 8)))] = 0.9
        return out
