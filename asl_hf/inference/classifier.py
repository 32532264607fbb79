"""The one inference path: a saved model folder or Hub repo in, class probabilities out.

Evaluation, the benchmark and (mirrored) the Space all classify through :class:`ImageClassifier`, so a number
measured here is what users get. Both model kinds load through transformers' Auto classes with their own saved
image processor: the CNN (registered by importing ``asl_hf``; its folder also carries remote code) and the timm
MobileNetV2 folder (transformers' ``TimmWrapper`` + ``TimmWrapperImageProcessor``, i.e. timm's eval transform).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image

from ..core.errors import AslError
from ..core.images import to_rgb
from .lean import lean_preprocessor_for

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


class Classification(NamedTuple):
    """Probabilities of a batch of images, and which of them showed a hand."""

    probabilities: np.ndarray
    """``[N, num_classes]`` float32, columns in ``ImageClassifier.labels`` order."""
    hand_found: np.ndarray | None
    """``[N]`` bool for landmark models (False: no hand, the row is all ``no_hand_label``); None for pixel models,
    which classify the whole photo and never look for a hand."""


class Prediction(NamedTuple):
    """One image's best ``(label, probability)`` pairs and whether a hand was found (None: the model does not look)."""

    top: list[tuple[str, float]]
    hand_found: bool | None


class ImageClassifier:
    """An image processor + classification model pair in eval mode, with batched ``predict``/``predict_proba``.

    Any processor whose outputs are the model's inputs works (``model(**processor(images))``); the CNN's processor
    is replaced by a checked lean copy, the fast path for batch-1 latency.
    """

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

    @property
    def detects_hands(self) -> bool:
        """True for landmark models: their processor reports ``hand_found`` per image."""
        return "hand_found" in (getattr(self.processor, "model_input_names", None) or ())

    @property
    def no_hand_label(self) -> str | None:
        """The class a landmark model gives photos without a hand (None for pixel models)."""
        return getattr(self.model.config, "no_hand_label", None) if self.detects_hands else None

    def _images(self, images) -> list[Image.Image]:
        if isinstance(images, (Image.Image, np.ndarray)):
            raise ImageInputError("images must be a list of images; wrap a single image as [image]")
        if not isinstance(images, Sequence) or isinstance(images, (str, bytes)):
            raise ImageInputError(f"images must be a list of images, got {type(images).__name__}")
        return [_as_pil(image, i) for i, image in enumerate(images)]

    def _forward(self, chunk: list[Image.Image]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits of one batch (float32, CPU) and its ``hand_found`` when the processor reports one."""
        if self.lean:
            pixel_values = self.lean(chunk).to(self.device, dtype=self.model.dtype)
            return self.model(pixel_values=pixel_values).logits.float().cpu(), None
        inputs = {
            name: value.to(self.device, dtype=self.model.dtype) if value.is_floating_point() else value.to(self.device)
            for name, value in self.processor(chunk, return_tensors="pt").items()
        }
        hand_found = inputs.get("hand_found")
        return self.model(**inputs).logits.float().cpu(), None if hand_found is None else hand_found.bool().cpu()

    @torch.inference_mode()
    def _run(self, images: Sequence[Image.Image]) -> tuple[torch.Tensor, np.ndarray | None]:
        images = self._images(images)
        logits, found = [], []
        for start in range(0, len(images), self.batch_size):
            chunk_logits, chunk_found = self._forward(images[start : start + self.batch_size])
            logits.append(chunk_logits)
            found.append(chunk_found)
        hand_found = None
        if self.detects_hands:
            hand_found = torch.cat(found).numpy() if found else np.zeros(0, bool)
        return (torch.cat(logits) if logits else torch.empty(0, len(self.labels))), hand_found

    def logits(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Raw logits ``[N, C]`` (float32, on the CPU), computed ``batch_size`` images at a time."""
        return self._run(images)[0]

    def classify(self, images: Sequence[Image.Image]) -> Classification:
        """Probabilities and, for landmark models, which images showed a hand: one pass for both."""
        logits, hand_found = self._run(images)
        return Classification(logits.softmax(-1).numpy(), hand_found)

    def predict_proba(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Softmax probabilities, ``[N, num_classes]`` float32, columns in ``self.labels`` order."""
        return self.classify(images).probabilities

    def predict_ids(self, images: Sequence[Image.Image]) -> list[int]:
        """The most likely label id of each image."""
        return self.logits(images).argmax(-1).tolist()

    def predict_with_hands(self, images: Sequence[Image.Image], top_k: int = 5) -> list[Prediction]:
        """Each image's top ``top_k`` pairs and ``hand_found``. Without a hand, ``top`` is only
        ``[(no_hand_label, 1.0)]``: no letter is listed for a photo whose hand the model never saw."""
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
        probabilities, hand_found = self.classify(images)
        scores, ids = torch.from_numpy(probabilities).topk(min(top_k, len(self.labels)), dim=-1)
        predictions = []
        for row, (row_ids, row_scores) in enumerate(zip(ids.tolist(), scores.tolist())):
            found = None if hand_found is None else bool(hand_found[row])
            top = [(self.labels[i], float(s)) for i, s in zip(row_ids, row_scores)]
            predictions.append(Prediction(top if found is not False else top[:1], found))  # top[:1]: (no_hand_label, 1.0)
        return predictions

    def predict(self, images: Sequence[Image.Image], top_k: int = 5) -> list[list[tuple[str, float]]]:
        """The ``top_k`` most likely ``(label, probability)`` pairs of each image, best first (for a landmark model
        and a photo without a hand: only ``(no_hand_label, 1.0)``; :meth:`predict_with_hands` says which)."""
        return [prediction.top for prediction in self.predict_with_hands(images, top_k)]


def _has_mediapipe() -> bool:
    from ..models.asl_landmarks import mediapipe_available

    return mediapipe_available()


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

    from .. import models  # noqa: F401 - registers the CNN with the Auto classes (no remote code needed)
    from ..models.asl_landmarks.image_processing_asl_landmarks import MEDIAPIPE_HINT  # registers the landmark classifier too

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
    classifier = ImageClassifier(processor, model, device or default_device(), batch_size)
    if classifier.detects_hands and not _has_mediapipe():  # fail now, not at the first image
        raise ModelLoadError(f"{source}: a hand-landmark model needs MediaPipe: {MEDIAPIPE_HINT}")
    return classifier


__all__ = [
    "DEFAULT_BATCH_SIZE", "Classification", "ImageClassifier", "ImageInputError", "ModelLoadError", "Prediction", "load_classifier",
]
