"""Inference: a saved model folder or Hub repo in, class probabilities out (the path users, evaluation, the benchmark
and the Space all take), with the lean preprocessing that makes batch-1 calls fast."""

from .classifier import (
    DEFAULT_BATCH_SIZE,
    Classification,
    ImageClassifier,
    ImageInputError,
    ModelLoadError,
    Prediction,
    load_classifier,
)

__all__ = [
    "DEFAULT_BATCH_SIZE", "Classification", "ImageClassifier", "ImageInputError", "ModelLoadError", "Prediction", "load_classifier",
]
