"""Inference: a saved model folder or Hub repo in, class probabilities out (the path users, evaluation, the benchmark,
the spelling scripts and the Space all take), with the lean preprocessing that makes batch-1 calls fast and what each
model reports about itself (for choosing which to show first)."""

from .classifier import DEFAULT_BATCH_SIZE, Classification, ImageClassifier, ImageInputError, Prediction
from .loading import ModelLoadError, default_device, hub_reachable, load_classifier

__all__ = [
    "DEFAULT_BATCH_SIZE", "Classification", "ImageClassifier", "ImageInputError", "ModelLoadError", "Prediction",
    "default_device", "hub_reachable", "load_classifier",
]
