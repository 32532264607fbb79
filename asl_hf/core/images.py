"""Turn any decoded image into what the models expect: an upright 8-bit RGB picture."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps


def to_rgb(image: Image.Image) -> Image.Image:
    """Upright RGB from any PIL mode: EXIF rotation applied, alpha composited on white,
    16/32-bit integer images scaled (not clipped) to 8 bits, CMYK/P/LA/1 converted.
    Animated images give their first frame."""
    if getattr(image, "is_animated", False):
        image.seek(0)
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    elif image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        peak = 1.0 if array.max(initial=0) <= 1.0 else 255.0
        image = Image.fromarray(np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


def needs_conversion(image: Image.Image) -> bool:
    """Whether ``to_rgb`` would change the image (non-RGB mode or an EXIF rotation)."""
    if image.mode != "RGB" or getattr(image, "is_animated", False):
        return True
    orientation = image.getexif().get(0x0112, 1)
    return orientation not in (None, 1)


MAX_PIXELS = 50_000_000
"""Photos above this many pixels are refused before decoding (decompression bombs): 50 MP is above any phone photo."""
MAX_SIDE = 1024
"""Photos are downscaled to fit this before preprocessing: the pixel models look at 224 px or less, and MediaPipe
resizes to 224/256 px itself."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def open_image(path, display_name: str | None = None, max_pixels: int = MAX_PIXELS, max_side: int = MAX_SIDE) -> Image.Image:
    """Decode a photo someone gave us, safely: non-images, damaged files and images over ``max_pixels`` are a one-line
    :class:`~asl_hf.core.errors.ImageFileError` naming ``display_name`` (an upload's own name, not the server's temporary
    path); large JPEGs are decoded at reduced scale (never below ``max_side``)."""
    import warnings
    from pathlib import Path

    from .errors import ImageFileError

    name = display_name or Path(path).name
    try:
        with warnings.catch_warnings():  # PIL warns from 89 MP; the stricter max_pixels check below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as error:  # PIL refuses outright from 179 MP
        raise ImageFileError(f"{name}: too large to open ({_first_line(error)})") from None
    except (OSError, ValueError, SyntaxError):  # UnidentifiedImageError is an OSError
        raise ImageFileError(f"{name}: not an image file that can be read (use JPEG, PNG, WebP, GIF or BMP)") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageFileError(f"{name}: {width}x{height} pixels is too large (limit {max_pixels // 1_000_000} megapixels); resize it first")
    if max(width, height) > max_side:
        image.draft(image.mode, (max_side, max_side))  # JPEG only: decode at 1/2..1/8 scale, never below max_side
    try:
        image.load()
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageFileError(f"{name}: the image file is damaged or truncated ({_first_line(error)})") from None
    return image


def prepare_image(image: Image.Image, max_side: int = MAX_SIDE) -> Image.Image:
    """Upright RGB, downscaled to fit ``max_side`` (smaller images are left exactly as they are)."""
    image = to_rgb(image)
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image
