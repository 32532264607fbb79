"""Image transforms for training (augmented) and evaluation (resize + rescale + normalise only).

Both are torchvision ``transforms.v2`` pipelines sized per model from a :class:`PreprocessSpec`:
the CNN's comes from its config (64x64, resized straight), MobileNetV2's from timm's data config
(resize the short side to ``size / crop_pct``, centre crop). The evaluation pipeline reproduces the
model's saved image processor, so ``pipeline("image-classification")`` sees what evaluation saw
(tests check this against transformers' and timm's own preprocessing).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import v2

from .images import to_rgb

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


@dataclass(frozen=True)
class AugmentationConfig:
    """Training augmentation. Horizontal flip is off by default: mirroring turns a sign into its other-handed form."""

    rotation: float = 10.0
    """Maximum rotation, degrees."""
    shift: float = 0.1
    """Maximum translation, fraction of width/height."""
    shear: float = 5.0
    """Maximum shear, degrees."""
    zoom: float = 0.1
    """Scale drawn from [1 - zoom, 1 + zoom]."""
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.0
    """Hue jitter is off by default: it costs more than the rest of the augmentation together (RGB->HSV per image)."""
    horizontal_flip: bool = False


def _resize(spec: PreprocessSpec) -> list[v2.Transform]:
    interpolation = _INTERPOLATIONS[spec.interpolation]
    steps: list[v2.Transform] = [v2.ToImage()] if spec.resize_on_tensor else []
    if spec.crop_pct >= 1.0:
        return [*steps, v2.Resize((spec.height, spec.width), interpolation=interpolation, antialias=True)]
    if spec.height == spec.width:  # timm's "center" crop mode: short side to size / crop_pct
        scale = math.floor(spec.height / spec.crop_pct)
    else:
        scale = (math.floor(spec.height / spec.crop_pct), math.floor(spec.width / spec.crop_pct))
    return [*steps, v2.Resize(scale, interpolation=interpolation, antialias=True), v2.CenterCrop((spec.height, spec.width))]


def _to_normalised_tensor(spec: PreprocessSpec) -> list[v2.Transform]:
    to_image = [] if spec.resize_on_tensor else [v2.ToImage()]
    return [*to_image, v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(spec.mean), std=list(spec.std))]


def build_eval_transform(spec: PreprocessSpec) -> v2.Compose:
    """Resize (and centre crop for timm models), rescale to [0, 1], normalise. No randomness."""
    return v2.Compose([*_resize(spec), *_to_normalised_tensor(spec)])


def build_resize_transform(spec: PreprocessSpec) -> v2.Compose:
    """PIL image -> uint8 tensor at the model's input size: the deterministic part of evaluation preprocessing.

    What :class:`~asl_hf.training.preload.InMemoryImages` stores once per image, so that training epochs neither
    decode nor resize again; ``build_normalise_transform`` after it equals :func:`build_eval_transform`."""
    steps = _resize(spec)
    return v2.Compose(steps if spec.resize_on_tensor else [*steps, v2.ToImage()])


def build_normalise_transform(spec: PreprocessSpec) -> v2.Compose:
    """uint8 tensor -> rescaled (1/255) and normalised float tensor."""
    return v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(spec.mean), std=list(spec.std))])


def build_augmentation(augmentation: AugmentationConfig | None = None) -> list[v2.Transform]:
    """The random part of training preprocessing: affine (rotation, shift, zoom, shear), colour jitter, optional flip.

    Works on PIL images and on uint8 tensors alike, so it can run after the resize on either."""
    aug = augmentation or AugmentationConfig()
    steps: list[v2.Transform] = []
    if aug.rotation or aug.shift or aug.shear or aug.zoom:
        steps.append(
            v2.RandomAffine(
                degrees=aug.rotation,
                translate=(aug.shift, aug.shift) if aug.shift else None,
                scale=(1 - aug.zoom, 1 + aug.zoom) if aug.zoom else None,
                shear=aug.shear or None,
                interpolation=InterpolationMode.BILINEAR,
            )
        )
    if aug.brightness or aug.contrast or aug.saturation or aug.hue:
        steps.append(v2.ColorJitter(brightness=aug.brightness, contrast=aug.contrast, saturation=aug.saturation, hue=aug.hue))
    if aug.horizontal_flip:
        steps.append(v2.RandomHorizontalFlip())
    return steps


def build_train_transform(spec: PreprocessSpec, augmentation: AugmentationConfig | None = None) -> v2.Compose:
    """Resize first (cheap augmentation on the small image), then random affine, colour jitter, optional flip.

    Augmentation runs on PIL images: RandomAffine is about twice as fast there as on tensors, and the one-grey-level
    resampling difference to the tensor path is far below the augmentation's own changes.
    """
    spec = replace(spec, resize_on_tensor=False)
    return v2.Compose([*_resize(spec), *build_augmentation(augmentation), *_to_normalised_tensor(spec)])


def build_tensor_train_transform(spec: PreprocessSpec, augmentation: AugmentationConfig | None = None) -> v2.Compose:
    """Training preprocessing for images already resized to uint8 tensors (:func:`build_resize_transform`)."""
    return v2.Compose([*build_augmentation(augmentation), *build_normalise_transform(spec).transforms])


class BatchTransform:
    """An image transform applied to a ``Dataset.with_transform`` batch: images -> ``pixel_values``, label -> ``labels``.

    A class, not a closure, so DataLoader workers started with ``spawn`` (macOS, Windows) can pickle it.
    """

    def __init__(self, transform: Callable[[Image.Image], torch.Tensor]):
        self.transform = transform

    def __call__(self, batch: dict) -> dict:
        output = {"pixel_values": [self.transform(to_rgb(image)) for image in batch["image"]]}
        if "label" in batch:
            output["labels"] = batch["label"]
        return output


def batch_transform(transform: Callable[[Image.Image], torch.Tensor]) -> BatchTransform:
    """Wrap an image transform for ``Dataset.with_transform``."""
    return BatchTransform(transform)


def collate(examples: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Stack transformed examples into a batch for the model."""
    batch = {"pixel_values": torch.stack([example["pixel_values"] for example in examples])}
    if "labels" in examples[0]:
        batch["labels"] = torch.tensor([example["labels"] for example in examples], dtype=torch.long)
    return batch
