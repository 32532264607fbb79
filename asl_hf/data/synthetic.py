"""A small, deterministic stand-in for the ASL Alphabet folder, so every command works offline.

Each class is a fixed "hand shape" (a few thick strokes and blobs drawn from a per-class seed).
Every image draws that shape with a random pose (rotation, shift, scale), skin tone, lighting,
background clutter and noise, so a model has to learn the shape rather than a colour or a pixel.
Like the real data (frames of videos), consecutive file indices share a "recording session"
(background and lighting), which is what ``--split_by group`` keeps together.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from ..core.constants import CLASS_NAMES

DEFAULT_IMAGES_PER_CLASS = 60
DEFAULT_IMAGE_SIZE = 96
SESSION_LENGTH = 10
"""Consecutive images per simulated recording session (same background and lighting)."""


def _class_template(class_index: int) -> list[tuple]:
    """Strokes that define one class, in unit coordinates centred on (0, 0)."""
    rng = random.Random(10_007 * (class_index + 1))
    if CLASS_NAMES[class_index] == "nothing":
        return []  # like the real "nothing" class: background only
    strokes: list[tuple] = []
    # A palm blob every class shares, so the classes differ in their "fingers", not in presence.
    strokes.append(("ellipse", (0.0, 0.25), (0.32, 0.28)))
    for _ in range(rng.randint(2, 4)):
        angle = rng.uniform(-math.pi, 0.0)
        length = rng.uniform(0.35, 0.75)
        start = (rng.uniform(-0.25, 0.25), rng.uniform(0.0, 0.2))
        end = (start[0] + length * math.cos(angle), start[1] + length * math.sin(angle))
        strokes.append(("line", start, end, rng.uniform(0.08, 0.14)))
    if rng.random() < 0.5:
        strokes.append(("ellipse", (rng.uniform(-0.4, 0.4), rng.uniform(-0.5, 0.1)), (0.1, 0.1)))
    return strokes


def _session_style(rng: random.Random) -> dict:
    return {
        "background": tuple(rng.randint(20, 235) for _ in range(3)),
        "light": rng.uniform(0.7, 1.2),
        "clutter": [
            (rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.25), tuple(rng.randint(0, 255) for _ in range(3)))
            for _ in range(rng.randint(1, 4))
        ],
    }


def render_example(class_index: int, image_index: int, image_size: int = DEFAULT_IMAGE_SIZE, seed: int = 0) -> Image.Image:
    """Render image ``image_index`` (1-based, as in the real file names) of one class."""
    session = (image_index - 1) // SESSION_LENGTH
    style = _session_style(random.Random(f"{seed}-{class_index}-session-{session}"))
    rng = random.Random(f"{seed}-{class_index}-{image_index}")
    size = image_size
    light = style["light"]
    image = Image.new("RGB", (size, size), tuple(min(255, int(c * light)) for c in style["background"]))
    draw = ImageDraw.Draw(image)
    for cx, cy, r, colour in style["clutter"]:
        cx, cy, r = cx * size + rng.uniform(-2, 2), cy * size + rng.uniform(-2, 2), r * size
        draw.rectangle([cx - r, cy - r * 0.6, cx + r, cy + r * 0.6], fill=tuple(min(255, int(c * light)) for c in colour))

    skin = tuple(min(255, int(c * light * rng.uniform(0.85, 1.1))) for c in (224, 172, 140))
    angle = math.radians(rng.uniform(-20, 20))
    scale = size * rng.uniform(0.55, 0.75)
    ox, oy = size / 2 + rng.uniform(-0.12, 0.12) * size, size / 2 + rng.uniform(-0.1, 0.1) * size
    cos, sin = math.cos(angle), math.sin(angle)

    def to_px(point: tuple[float, float]) -> tuple[float, float]:
        x, y = point
        return ox + scale * (x * cos - y * sin), oy + scale * (x * sin + y * cos)

    for stroke in _class_template(class_index):
        if stroke[0] == "ellipse":
            (cx, cy), (rx, ry) = to_px(stroke[1]), stroke[2]
            draw.ellipse([cx - rx * scale, cy - ry * scale, cx + rx * scale, cy + ry * scale], fill=skin)
        else:
            width = max(2, int(stroke[3] * scale))
            start, end = to_px(stroke[1]), to_px(stroke[2])
            draw.line([start, end], fill=skin, width=width)
            draw.ellipse([end[0] - width / 2, end[1] - width / 2, end[0] + width / 2, end[1] + width / 2], fill=skin)

    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.0)))
    noise = Image.effect_noise((size, size), rng.uniform(5, 25)).convert("RGB")
    return Image.blend(image, noise, 0.12)


def generate_synthetic_asl(
    output_dir: str | os.PathLike,
    images_per_class: int = DEFAULT_IMAGES_PER_CLASS,
    image_size: int = DEFAULT_IMAGE_SIZE,
    seed: int = 0,
    classes: list[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``<output_dir>/<CLASS>/<CLASS><i>.jpg`` for every class; returns the folder.

    The folder is built in a temporary sibling and renamed into place, so an interrupted run
    never leaves a half-written data set behind.
    """
    output_dir = Path(output_dir)
    if output_dir.exists():
        if not overwrite:
            raise FileExistsError(f"{output_dir}: already exists (pass overwrite=True to replace it)")
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    try:
        for name in classes or CLASS_NAMES:
            class_index = CLASS_NAMES.index(name)
            (staging / name).mkdir()
            for i in range(1, images_per_class + 1):
                render_example(class_index, i, image_size, seed).save(staging / name / f"{name}{i}.jpg", quality=92)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        staging.rename(output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output_dir


def default_data_dir() -> Path:
    """Where the embedded default data set is cached (``ASL_HF_CACHE`` or ``~/.cache/asl_hf``)."""
    root = Path(os.environ.get("ASL_HF_CACHE", Path.home() / ".cache" / "asl_hf"))
    return root / f"synthetic-asl-{DEFAULT_IMAGES_PER_CLASS}x{DEFAULT_IMAGE_SIZE}"


def ensure_default_data() -> Path:
    """Generate the embedded default data set once and return its folder."""
    folder = default_data_dir()
    if not folder.exists():
        generate_synthetic_asl(folder)
    return folder
