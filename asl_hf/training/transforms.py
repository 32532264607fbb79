"""Training-time image transforms: augmentation (random affine, colour jitter, optional flip) on top of the model's
own preprocessing (:mod:`asl_hf.models.preprocessing`), and the batch wrappers the data loaders use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import v2

from ..core.images import to_rgb
from ..models.preprocessing import PreprocessSpec, resize_steps, normalised_tensor_steps, build_normalise_transform


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
    return v2.Compose([*resize_steps(spec), *build_augmentation(augmentation), *normalised_tensor_steps(spec)])


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
