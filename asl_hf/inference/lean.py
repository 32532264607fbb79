"""A lean image -> tensor path with the same numbers as the model's own preprocessing, minus the overhead.

At batch 1 a 64x64 CNN spends about as long in the image processor (argument validation,
format inference, per-call tensor conversion) as in its forward pass. The lean path does only
the arithmetic: resize (uint8 tensor resize like transformers' torchvision backend, or PIL resize
like torchvision transforms on PIL images / timm), optional centre crop, then one
``x * scale + bias`` that folds rescale (1/255) and normalise ((x - mean) / std) together.
:func:`matching_lean_preprocessor` only hands out a backend whose output is allclose to the
reference on sample images, so speed never changes what the model sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

from ..core.images import to_rgb
from ..models.preprocessing import PreprocessSpec

BACKENDS = ("tensor", "pil")
_PIL_RESAMPLE = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}
_TV_INTERPOLATION = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC, "nearest": InterpolationMode.NEAREST}


def _resize_size(spec: PreprocessSpec, width: int, height: int) -> tuple[int, int]:
    """(height, width) before the centre crop, as torchvision's Resize(int) computes it (short side)."""
    if spec.crop_pct >= 1.0:
        return spec.height, spec.width
    if spec.height != spec.width:
        return math.floor(spec.height / spec.crop_pct), math.floor(spec.width / spec.crop_pct)
    short = math.floor(spec.height / spec.crop_pct)
    if width <= height:
        return int(short * height / width), short
    return short, int(short * width / height)


class LeanPreprocessor:
    """PIL image(s) -> normalised float batch ``(N, 3, H, W)``; ``backend`` picks the resize implementation."""

    def __init__(self, spec: PreprocessSpec, backend: str = "tensor"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.spec, self.backend = spec, backend
        self.scale = torch.tensor([1.0 / (255.0 * s) for s in spec.std], dtype=torch.float32).view(3, 1, 1)
        self.bias = torch.tensor([-m / s for m, s in zip(spec.mean, spec.std)], dtype=torch.float32).view(3, 1, 1)
        self._scale, self._bias = self.scale.numpy(), self.bias.numpy()
        """The PIL backend's arithmetic runs in numpy, so a photo wakes no torch kernel: torch's thread pool, once woken,
        spins and takes the cores from ONNX Runtime's own spinning threads. MobileNetV2 through ONNX Runtime, batch 1,
        test photos, 2 cores: 12.3 ms p50 (36.5 p95) a photo with torch's arithmetic, 7.8 (9.9) with numpy's."""

    def _uint8_chw(self, image: Image.Image, upright_rgb: bool = False) -> torch.Tensor:
        if not upright_rgb:
            image = to_rgb(image)
        height, width = _resize_size(self.spec, *image.size)
        if self.backend == "pil":
            if image.size != (width, height):
                image = image.resize((width, height), _PIL_RESAMPLE[self.spec.interpolation])
            chw = torch.from_numpy(np.array(image)).permute(2, 0, 1)
        else:
            chw = torch.from_numpy(np.array(image)).permute(2, 0, 1)
            if chw.shape[1:] != (height, width):
                chw = TF.resize(chw, [height, width], interpolation=_TV_INTERPOLATION[self.spec.interpolation], antialias=True)
        if chw.shape[1:] != (self.spec.height, self.spec.width):
            chw = TF.center_crop(chw, [self.spec.height, self.spec.width])
        return chw

    def __call__(self, images: Image.Image | Sequence[Image.Image], upright_rgb: bool = False) -> torch.Tensor:
        """``upright_rgb``: the caller already made every image upright RGB (``to_rgb``), so it is not done twice."""
        if isinstance(images, Image.Image):
            images = [images]
        chw = [self._uint8_chw(image, upright_rgb) for image in images]
        if self.backend == "tensor":  # torch resized them: its thread pool is awake anyway
            return torch.addcmul(self.bias, torch.stack(chw).float(), self.scale)
        batch = np.stack([image.numpy() for image in chw]).astype(np.float32)
        batch *= self._scale
        batch += self._bias
        return torch.from_numpy(batch)


def max_difference(first: torch.Tensor, second: torch.Tensor) -> float:
    return float((first.float() - second.float()).abs().max()) if first.shape == second.shape else math.inf


def matching_lean_preprocessor(
    spec: PreprocessSpec,
    reference: Callable[[Image.Image], torch.Tensor],
    images: Sequence[Image.Image],
    atol: float = 1e-5,
) -> tuple[LeanPreprocessor | None, dict[str, float]]:
    """The first lean backend whose output is allclose (``atol``) to ``reference`` on every image.

    Returns it (or None) and each backend's max |difference|, which the report prints.
    """
    differences = {}
    for backend in BACKENDS:
        lean = LeanPreprocessor(spec, backend)
        differences[backend] = max(max_difference(lean(image), reference(image).reshape(1, 3, spec.height, spec.width)) for image in images)
    for backend in BACKENDS:
        if differences[backend] <= atol:
            return LeanPreprocessor(spec, backend), differences
    return None, differences


_RESAMPLE_NAMES = {0: "nearest", 2: "bilinear", 3: "bicubic"}


def probe_images() -> list[Image.Image]:
    """Three seeded noise images of different sizes: inputs to compare two preprocessings or two runtimes on."""
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in ((96, 96), (150, 200), (41, 37))]


def lean_preprocessor_for(processor) -> LeanPreprocessor | None:
    """A lean stand-in for a plain transformers image processor (resize to a fixed size, rescale 1/255, normalise,
    no centre crop) or for transformers' timm wrapper processor (timm's resize + centre crop), or None.
    It is checked against ``processor`` on probe images before it is handed out."""
    reference = lambda image: processor([image], return_tensors="pt")["pixel_values"]  # noqa: E731
    timm_config = getattr(processor, "data_config", None)
    if isinstance(timm_config, dict) and {"input_size", "mean", "std"} <= set(timm_config):
        lean, _ = matching_lean_preprocessor(PreprocessSpec.from_timm_data_config(timm_config), reference, probe_images())
        return lean
    config = processor.to_dict() if hasattr(processor, "to_dict") else {}
    size = config.get("size") or {}
    plain = (
        config.get("do_resize") and "height" in size and "width" in size and not config.get("do_center_crop")
        and config.get("do_rescale") and abs(float(config.get("rescale_factor", 0)) - 1 / 255) < 1e-9
        and config.get("do_normalize") and int(config.get("resample", -1)) in _RESAMPLE_NAMES
    )
    if not plain:
        return None
    mean, std = config.get("image_mean"), config.get("image_std")
    if not (isinstance(mean, (list, tuple)) and isinstance(std, (list, tuple)) and len(mean) == len(std) == 3):
        return None
    spec = PreprocessSpec(height=size["height"], width=size["width"], mean=tuple(mean), std=tuple(std),
                          interpolation=_RESAMPLE_NAMES[int(config["resample"])])
    lean, _ = matching_lean_preprocessor(spec, reference, probe_images())
    return lean
