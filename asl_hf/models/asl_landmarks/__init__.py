"""The hand-landmark classifier: config, model, MediaPipe image processor, registration with the Auto classes."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

from ..saving import save_model_folder
from .configuration_asl_landmarks import AslLandmarksConfig
from .image_processing_asl_landmarks import AslLandmarksImageProcessor, HandDetection
from .modeling_asl_landmarks import AslLandmarksForImageClassification, AslLandmarksPreTrainedModel

AutoConfig.register(AslLandmarksConfig.model_type, AslLandmarksConfig, exist_ok=True)
AutoModelForImageClassification.register(AslLandmarksConfig, AslLandmarksForImageClassification, exist_ok=True)
AutoImageProcessor.register(AslLandmarksConfig, slow_image_processor_class=AslLandmarksImageProcessor, exist_ok=True)
# Saved folders carry the code (auto_map + the three files), so they load with trust_remote_code=True anywhere.
AslLandmarksConfig.register_for_auto_class()
AslLandmarksForImageClassification.register_for_auto_class("AutoModelForImageClassification")
AslLandmarksImageProcessor.register_for_auto_class("AutoImageProcessor")


@functools.cache
def mediapipe_problem() -> str | None:
    """Why MediaPipe Hands cannot run here (one line), None when it can. Releases after 0.10.14 import but have no
    ``mediapipe.solutions``; importing it also imports OpenCV, which needs the system's libGL (a Space's packages.txt)."""
    try:
        import mediapipe

        mediapipe.solutions.hands  # noqa: B018 - releases after 0.10.14 have no bundled hand models
    except (ImportError, OSError, AttributeError) as error:
        text = str(error).strip()
        return text.splitlines()[0] if text else type(error).__name__
    return None


def mediapipe_available() -> bool:
    """Whether MediaPipe with its bundled hand models (0.10.14, the ``hands`` extra) can run here."""
    return mediapipe_problem() is None


def save_landmarks_model(model: AslLandmarksForImageClassification, processor: AslLandmarksImageProcessor, output_dir: str | os.PathLike) -> Path:
    """Write the loadable folder: config.json, model.safetensors, preprocessor_config.json and the code files."""
    return save_model_folder(model, processor, output_dir)


__all__ = [
    "AslLandmarksConfig", "AslLandmarksForImageClassification", "AslLandmarksImageProcessor", "AslLandmarksPreTrainedModel",
    "HandDetection", "mediapipe_available", "mediapipe_problem", "save_landmarks_model",
]
