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
