"""The one inference path: a saved model folder or Hub repo in, class probabilities out.

Evaluation, the benchmark and (mirrored) the Space all classify through :class:`ImageClassifier`, so a number
measured here is what users get. Both model kinds load through transformers' Auto classes with their own saved
image processor: the CNN (registered by importing ``asl_hf``; its folder also carries remote code) and the timm
MobileNetV2 folder (transformers' ``TimmWrapper`` + ``TimmWrapperImageProcessor``, i.e. timm's eval transform).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from .errors import AslError
from .images import to_rgb
from .preprocessing import lean_preprocessor_for

DEFAULT_BATCH_SIZE = 32


class ModelLoadError(AslError):
    """A model folder or Hub repo could not be loaded as an image classifier."""


class ImageInputError(AslError, TypeError):
    """Something other than an image was passed for classification."""


def _as_pil(image, index: int) -> Image.Image:
    if isinstance(image, Image.Image):
        return to_rgb(image)
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        return to_rgb(Image.fromarray(image))
    shape = f" with shape {image.shape} and dtype {image.dtype}" if isinstance(image, np.ndarray) else ""
    raise ImageInputError(
        f"image {index}: expected a PIL image or a uint8 HxW / HxWx3 / HxWx4 array, got {type(image).__name__}{shape}"
    )


class ImageClassifier:
    """An image processor + classification model pair in eval mode, with batched ``predict``/``predict_proba``."""

    def __init__(self, processor, model: torch.nn.Module, device: str | torch.device = "cpu", batch_size: int = DEFAULT_BATCH_SIZE):
        self.processor = processor
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.batch_size = batch_size
        self.lean = lean_preprocessor_for(processor)
        """The same arithmetic as ``processor`` without its per-call overhead, when it is checked to match (the CNN's)."""
        id2label = model.config.id2label
        self.labels: list[str] = [str(id2label[i]) for i in range(len(id2label))]
        """Class names in label-id order (the model's ``id2label``)."""

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.labels)}

    def _images(self, images) -> list[Image.Image]:
        if isinstance(images, (Image.Image, np.ndarray)):
            raise ImageInputError("images must be a list of images; wrap a single image as [image]")
        if not isinstance(images, Sequence) or isinstance(images, (str, bytes)):
            raise ImageInputError(f"images must be a list of images, got {type(images).__name__}")
        return [_as_pil(image, i) for i, image in enumerate(images)]

    @torch.inference_mode()
    def logits(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Raw logits ``[N, C]`` (float32, on the CPU), computed ``batch_size`` images at a time."""
        images = self._images(images)
        chunks = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            pixel_values = self.lean(chunk) if self.lean else self.processor(chunk, return_tensors="pt")["pixel_values"]
            pixel_values = pixel_values.to(self.device, dtype=self.model.dtype)
            chunks.append(self.model(pixel_values=pixel_values).logits.float().cpu())
        return torch.cat(chunks) if chunks else torch.empty(0, len(self.labels))

    def predict_proba(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Softmax probabilities, ``[N, num_classes]`` float32, columns in ``self.labels`` order."""
        return self.logits(images).softmax(-1).numpy()

    def predict_ids(self, images: Sequence[Image.Image]) -> list[int]:
        """The most likely label id of each image."""
        return self.logits(images).argmax(-1).tolist()

    def predict(self, images: Sequence[Image.Image], top_k: int = 5) -> list[list[tuple[str, float]]]:
        """The ``top_k`` most likely ``(label, probability)`` pairs of each image, best first."""
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
        probabilities = torch.from_numpy(self.predict_proba(images))
        scores, ids = probabilities.topk(min(top_k, len(self.labels)), dim=-1)
        return [
            [(self.labels[i], float(s)) for i, s in zip(row_ids.tolist(), row_scores.tolist())]
            for row_ids, row_scores in zip(ids, scores)
        ]


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_classifier(
    model_name_or_path: str | os.PathLike,
    revision: str | None = None,
    token: str | bool | None = None,
    device: str | torch.device | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ImageClassifier:
    """Load a saved model folder or Hub repo id (either model kind) with its image processor."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    from . import models  # noqa: F401 - registers the CNN with the Auto classes (no remote code needed)

    source = str(model_name_or_path)
    looks_like_path = source.startswith((".", "/", "~")) or source.count("/") > 1 or os.sep in source.replace("/", "")
    if not os.path.exists(source) and looks_like_path:
        raise ModelLoadError(f"{source}: no such model folder")
    if os.path.exists(source) and not os.path.isfile(os.path.join(source, "config.json")):
        raise ModelLoadError(f"{source}: not a saved model folder (no config.json)")
    try:
        processor = AutoImageProcessor.from_pretrained(source, revision=revision, token=token)
        model = AutoModelForImageClassification.from_pretrained(source, revision=revision, token=token)
    except (OSError, ValueError, KeyError) as error:  # missing files, unknown model type, Hub unreachable
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"{source}: could not load an image classifier ({message})") from error
    if not getattr(model.config, "id2label", None):
        raise ModelLoadError(f"{source}: the model config has no id2label, so predictions cannot be named")
    return ImageClassifier(processor, model, device or default_device(), batch_size)


__all__ = ["DEFAULT_BATCH_SIZE", "ImageClassifier", "ImageInputError", "ModelLoadError", "load_classifier"]
