"""Model definitions. Importing this registers the custom CNN and the hand-landmark model with transformers' Auto classes."""

from .asl_cnn import AslCnnConfig, AslCnnForImageClassification, AslCnnPreTrainedModel, build_image_processor, save_cnn
from .asl_landmarks import (
    AslLandmarksConfig,
    AslLandmarksForImageClassification,
    AslLandmarksImageProcessor,
    save_landmarks_model,
)

__all__ = [
    "AslCnnConfig", "AslCnnForImageClassification", "AslCnnPreTrainedModel", "build_image_processor", "save_cnn",
    "AslLandmarksConfig", "AslLandmarksForImageClassification", "AslLandmarksImageProcessor", "save_landmarks_model",
]
