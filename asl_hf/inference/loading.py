"""Loading a saved model folder or Hub repo as an :class:`~asl_hf.inference.classifier.ImageClassifier`.

All three model kinds load through transformers' Auto classes with their own saved image processor: the CNN and the
hand-landmark model (registered by importing ``asl_hf.models``; their folders also carry remote code) and the timm
MobileNetV2 folder (transformers' ``TimmWrapper`` + ``TimmWrapperImageProcessor``, i.e. timm's eval transform).
A model that cannot be loaded is a one-line :class:`ModelLoadError` that names the usual cause.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import urllib.error
import urllib.request

import torch

from ..core.errors import AslError
from .classifier import DEFAULT_BATCH_SIZE, ImageClassifier
from .lean import probe_images
from .onnx_runtime import ONNX_FILE, checked_session


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


class _NoBackendFallbackWarning(logging.Filter):
    """Drops transformers' "Requested torchvision backend is not available. Falling back to pil backend.": the
    landmark and timm processors exist only as the PIL kind, which is the one the saved model uses."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "backend is not available. Falling back to" not in record.getMessage()


@contextlib.contextmanager
def _quiet_processor_loading():
    log = logging.getLogger("transformers.models.auto.image_processing_auto")
    quiet = _NoBackendFallbackWarning()
    log.addFilter(quiet)
    try:
        yield
    finally:
        log.removeFilter(quiet)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


RUNTIMES = ("auto", "onnx", "eager")
"""``auto``: ONNX Runtime when it is installed and the model's ``model.onnx`` is there and matches the weights, else
eager PyTorch; ``onnx``: ONNX Runtime or a :class:`ModelLoadError` saying why not; ``eager``: PyTorch."""


def _onnx_file(source: str, revision: str | None, token, online: bool) -> tuple[str | None, str]:
    """The path of the model's ``model.onnx`` (a local folder's, or downloaded from its Hub repo), or ``(None, why)``."""
    if os.path.isdir(source):
        path = os.path.join(source, ONNX_FILE)
        return (path, "") if os.path.isfile(path) else (None, f"no {ONNX_FILE} in the folder")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return hf_hub_download(source, ONNX_FILE, revision=revision, token=token, local_files_only=not online), ""
    except EntryNotFoundError:
        return None, f"no {ONNX_FILE} in the repo" if online else f"no {ONNX_FILE} in the local cache (the Hub cannot be reached)"
    except Exception as error:  # noqa: BLE001 - an optional file: any failure means eager PyTorch, with the reason
        return None, f"{ONNX_FILE} could not be fetched: {type(error).__name__}"


def choose_runtime(classifier: ImageClassifier, source: str, runtime: str, revision: str | None = None, token=None,
                   online: bool = True) -> None:
    """Give ``classifier`` the ONNX Runtime session of its ``model.onnx`` when ``runtime`` allows it and the file's
    logits match the weights on probe images (:func:`checked_session`); else eager PyTorch. ``classifier.runtime_note``
    says which in words (``ONNX Runtime (model.onnx)``, ``PyTorch (<why not ONNX Runtime>)``). ``runtime="onnx"`` turns every reason into a :class:`ModelLoadError`."""
    if runtime not in RUNTIMES:
        raise ModelLoadError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if runtime == "eager":
        classifier.use_onnx(None, "PyTorch (as asked)")
        return
    onnx, reason, path = None, "", None
    if classifier.detects_hands:
        reason = "the hand-landmark MLP is not exported: it takes a fraction of a millisecond next to MediaPipe"
    elif classifier.device.type != "cpu":
        reason = f"ONNX Runtime is used on the CPU only (the model is on {classifier.device})"
    else:
        path, reason = _onnx_file(source, revision, token, online)
    if path is not None:
        probe = classifier.pixel_inputs(probe_images())["pixel_values"]
        onnx, reason = checked_session(path, classifier.model, probe)
    if onnx is None and runtime == "onnx":
        raise ModelLoadError(f"{source}: runtime 'onnx' cannot be used: {reason}")
    classifier.use_onnx(onnx, f"ONNX Runtime ({ONNX_FILE})" if onnx is not None else f"PyTorch ({reason})")


def load_classifier(
    model_name_or_path: str | os.PathLike,
    revision: str | None = None,
    token: str | bool | None = None,
    device: str | torch.device | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    runtime: str = "auto",
    calibration=None,
) -> ImageClassifier:
    """Load a saved model folder or Hub repo id (any of the three kinds) with its image processor; ``runtime`` (one of
    :data:`RUNTIMES`) picks ONNX Runtime or eager PyTorch for the forward pass (``classifier.runtime`` says which);
    ``calibration`` (a path to a calibration file, or a ``Calibration``) adapts a landmark model to one person's hand
    for every call (:mod:`asl_hf.inference.calibration`; the model's files are not changed)."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    from .. import models  # noqa: F401 - registers the CNN and the landmark model with the Auto classes
    from ..models.asl_landmarks import mediapipe_problem
    from ..models.asl_landmarks.image_processing_asl_landmarks import MEDIAPIPE_HINT

    if runtime not in RUNTIMES:
        raise ModelLoadError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    source = str(model_name_or_path)
    if not os.path.exists(source) and looks_like_path(source):
        raise ModelLoadError(f"{source}: no such model folder")
    if os.path.exists(source) and not os.path.isfile(os.path.join(source, "config.json")):
        raise ModelLoadError(f"{source}: not a saved model folder (no config.json)")
    online = os.path.isdir(source) or hub_reachable()
    options = {"revision": revision, "token": token, "local_files_only": not online}
    try:
        with _quiet_processor_loading():
            processor = AutoImageProcessor.from_pretrained(source, **options)
        model = AutoModelForImageClassification.from_pretrained(source, **options)
    except (OSError, ValueError, KeyError) as error:  # missing files, unknown model type, Hub unreachable
        raise ModelLoadError(_reason(source, error, online)) from error
    if not getattr(model.config, "id2label", None):
        raise ModelLoadError(f"{source}: the model config has no id2label, so predictions cannot be named")
    classifier = ImageClassifier(processor, model, device or default_device(), batch_size)
    if classifier.detects_hands and mediapipe_problem():  # fail now, not at the first image
        raise ModelLoadError(f"{source}: a hand-landmark model needs MediaPipe: {MEDIAPIPE_HINT} ({mediapipe_problem()})")
    choose_runtime(classifier, source, runtime, revision, token, online)
    classifier.use_calibration(calibration)
    return classifier


__all__ = ["RUNTIMES", "ModelLoadError", "choose_runtime", "default_device", "hub_reachable", "load_classifier", "looks_like_path"]
