"""Inference: a saved model folder or Hub repo in, class probabilities out (the path users, evaluation, the benchmark,
the spelling scripts and the Space all take), with the lean preprocessing and ONNX Runtime that make batch-1 calls
fast, hand tracking for the ordered frames of a video (:meth:`ImageClassifier.stream`), and what each model reports
about itself (for choosing which to show first), and one person's calibration (:mod:`.calibration`)."""

from .calibration import Calibration, CalibrationError, CalibrationSettings, build_calibration, photos_from_folder
from .classifier import DEFAULT_BATCH_SIZE, Classification, ImageClassifier, ImageInputError, Prediction
from .loading import RUNTIMES, ModelLoadError, default_device, hub_reachable, load_classifier
from .stream import FrameStream

__all__ = [
    "Calibration", "CalibrationError", "CalibrationSettings", "build_calibration", "photos_from_folder",
    "DEFAULT_BATCH_SIZE", "RUNTIMES", "Classification", "FrameStream", "ImageClassifier", "ImageInputError", "ModelLoadError",
    "Prediction", "default_device", "hub_reachable", "load_classifier",
]
