"""Loading a saved model folder or Hub repo as an :class:`~asl_hf.inference.classifier.ImageClassifier`.

All three model kinds load through transformers' Auto classes with their own saved image processor: the CNN and the
hand-landmark model (registered by importing ``asl_hf.models``; their folders also carry remote code) and the timm
MobileNetV2 folder (transformers' ``TimmWrapper`` + ``TimmWrapperImageProcessor``, i.e. timm's eval transform).
A model that cannot be loaded is a one-line :class:`ModelLoadError` that names the usual cause.
"""

from __future__ import annotations

import functools
import os
import urllib.error
import urllib.request

import torch

from ..core.errors import AslError
from .classifier import DEFAULT_BATCH_SIZE, ImageClassifier


class ModelLoadError(AslError):
    """A model folder or Hub repo could not be loaded as an image classifier."""


def looks_like_path(source: str) -> bool:
    """A local path rather than a Hub id (``user/name``)."""
    return source.startswith((".", "/", "~")) or source.count("/") > 1 or os.sep in source.replace("/", "")


@functools.cache
def hub_reachable() -> bool:
    """One quick probe of the Hub endpoint, so an offline start does not spend minutes in download retries.
    Any HTTP answer counts as reachable; ``HF_HUB_OFFLINE=1`` skips the probe."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    try:
        urllib.request.urlopen(urllib.request.Request(constants.ENDPOINT, method="HEAD"), timeout=5).close()
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True


def _reason(source: str, error: BaseException, online: bool) -> str:
    """A one-line reason, naming the usual causes instead of transformers' generic "Can't load ..." text."""
    names, cause = set(), error
    while cause is not None and len(names) < 20:
        names.add(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    if not os.path.isdir(source):
        if names & {"RepositoryNotFoundError", "GatedRepoError"}:
            return f"{source}: no such model repo on the Hub, or it is private/gated (set HF_TOKEN)"
        if not online:
            return f"{source}: the Hugging Face Hub cannot be reached and the model is not in the local cache"
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"{source}: could not load an image classifier ({message[:200]}{'...' if len(message) > 200 else ''})"


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_classifier(
    model_name_or_path: str | os.PathLike,
    revision: str | None = None,
    token: str | bool | None = None,
    device: str | torch.device | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ImageClassifier:
    """Load a saved model folder or Hub repo id (any of the three kinds) with its image processor."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    from .. import models  # noqa: F401 - registers the CNN and the landmark model with the Auto classes
    from ..models.asl_landmarks import mediapipe_problem
    from ..models.asl_landmarks.image_processing_asl_landmarks import MEDIAPIPE_HINT

    source = str(model_name_or_path)
    if not os.path.exists(source) and looks_like_path(source):
        raise ModelLoadError(f"{source}: no such model folder")
    if os.path.exists(source) and not os.path.isfile(os.path.join(source, "config.json")):
        raise ModelLoadError(f"{source}: not a saved model folder (no config.json)")
    online = os.path.isdir(source) or hub_reachable()
    options = {"revision": revision, "token": token, "local_files_only": not online}
    try:
        processor = AutoImageProcessor.from_pretrained(source, **options)
        model = AutoModelForImageClassification.from_pretrained(source, **options)
    except (OSError, ValueError, KeyError) as error:  # missing files, unknown model type, Hub unreachable
        raise ModelLoadError(_reason(source, error, online)) from error
    if not getattr(model.config, "id2label", None):
        raise ModelLoadError(f"{source}: the model config has no id2label, so predictions cannot be named")
    classifier = ImageClassifier(processor, model, device or default_device(), batch_size)
    if classifier.detects_hands and mediapipe_problem():  # fail now, not at the first image
        raise ModelLoadError(f"{source}: a hand-landmark model needs MediaPipe: {MEDIAPIPE_HINT} ({mediapipe_problem()})")
    return classifier


__all__ = ["ModelLoadError", "default_device", "hub_reachable", "load_classifier", "looks_like_path"]
