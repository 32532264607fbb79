"""What a model expects of an image: its input size, normalisation and resampling (:class:`PreprocessSpec`), and
the deterministic transforms that produce exactly that (resize, centre crop, rescale, normalise).

Both models' evaluation and inference preprocessing come from here: the CNN's spec from its config (64x64, resized
straight), MobileNetV2's from timm's data config (resize the short side to ``size / crop_pct``, centre crop). The
evaluation pipeline reproduces the model's saved image processor, so ``pipeline("image-classification")`` sees what
evaluation saw (tests check this against transformers' and timm's own preprocessing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms import v2

_INTERPOLATIONS = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}


@dataclass(frozen=True)
class PreprocessSpec:
    """What a model expects: input size, normalisation, resampling and centre-crop fraction."""

    height: int
    width: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str = "bilinear"
    crop_pct: float = 1.0
    """1.0 resizes the whole image to (height, width); below 1 resizes the short side to size/crop_pct and centre crops."""
    resize_on_tensor: bool = False
    """Resize the uint8 tensor (as transformers' torchvision-backend image processors do) instead of the PIL
    image (as timm's transforms do): the two resamplers differ slightly, and evaluation must match the model's processor."""

    @classmethod
    def from_timm_data_config(cls, data_config: dict) -> PreprocessSpec:
        _, height, width = data_config["input_size"]
        return cls(
            height=height,
            width=width,
            mean=tuple(data_config["mean"]),
            std=tuple(data_config["std"]),
            interpolation=data_config.get("interpolation", "bilinear"),
            crop_pct=data_config.get("crop_pct", 1.0),
        )

    @classmethod
    def from_cnn_config(cls, config) -> PreprocessSpec:
        return cls(
            height=config.image_size,
            width=config.image_size,
            mean=tuple(config.image_mean),
            std=tuple(config.image_std),
            resize_on_tensor=True,
        )


def resize_steps(spec: PreprocessSpec) -> list[v2.Transform]:
    interpolation = _INTERPOLATIONS[spec.interpolation]
    steps: list[v2.Transform] = [v2.ToImage()] if spec.resize_on_tensor else []
    if spec.crop_pct >= 1.0:
        return [*steps, v2.Resize((spec.height, spec.width), interpolation=interpolation, antialias=True)]
    if spec.height == spec.width:  # timm's "center" crop mode: short side to size / crop_pct
        scale = math.floor(spec.height / spec.crop_pct)
    else:
        scale = (math.floor(spec.height / spec.crop_pct), math.floor(spec.width / spec.crop_pct))
    return [*steps, v2.Resize(scale, interpolation=interpolation, antialias=True), v2.CenterCrop((spec.height, spec.width))]


def normalised_tensor_steps(spec: PreprocessSpec) -> list[v2.Transform]:
    to_image = [] if spec.resize_on_tensor else [v2.ToImage()]
    return [*to_image, v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(spec.mean), std=list(spec.std))]


def build_eval_transform(spec: PreprocessSpec) -> v2.Compose:
    """Resize (and centre crop for timm models), rescale to [0, 1], normalise. No randomness."""
    return v2.Compose([*resize_steps(spec), *normalised_tensor_steps(spec)])


def build_resize_transform(spec: PreprocessSpec) -> v2.Compose:
    """PIL image -> uint8 tensor at the model's input size: the deterministic part of evaluation preprocessing.

    What :class:`~asl_hf.training.preload.InMemoryImages` stores once per image, so that training epochs neither
    decode nor resize again; ``build_normalise_transform`` after it equals :func:`build_eval_transform`."""
    steps = resize_steps(spec)
    return v2.Compose(steps if spec.resize_on_tensor else [*steps, v2.ToImage()])


def build_normalise_transform(spec: PreprocessSpec) -> v2.Compose:
    """uint8 tensor -> rescaled (1/255) and normalised float tensor."""
    return v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(spec.mean), std=list(spec.std))])
