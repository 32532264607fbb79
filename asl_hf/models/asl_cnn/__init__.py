"""The compact ASL CNN: config, model, registration with the Auto classes, its image processor, saving."""

from __future__ import annotations

import os
from pathlib import Path

from transformers import AutoConfig, AutoModelForImageClassification, ViTImageProcessor
from transformers.image_utils import PILImageResampling

from ..saving import save_model_folder
from .configuration_asl_cnn import AslCnnConfig
from .modeling_asl_cnn import AslCnnForImageClassification, AslCnnPreTrainedModel

AutoConfig.register(AslCnnConfig.model_type, AslCnnConfig, exist_ok=True)
AutoModelForImageClassification.register(AslCnnConfig, AslCnnForImageClassification, exist_ok=True)
# Saved folders carry the code (auto_map + the two files), so they load with trust_remote_code=True anywhere.
AslCnnConfig.register_for_auto_class()
AslCnnForImageClassification.register_for_auto_class("AutoModelForImageClassification")


def build_image_processor(config: AslCnnConfig) -> ViTImageProcessor:
    """A standard transformers image processor (no custom code) for the CNN, saved as preprocessor_config.json.

    Converts to RGB (alpha composited on white), resizes to ``image_size`` x ``image_size`` (bilinear,
    antialiased), rescales by 1/255, normalises with the config's mean/std. ``AutoImageProcessor`` and
    ``pipeline`` load it with the torchvision backend by default, which resizes the uint8 *tensor*: the
    matching training transform is ``ToImage(), Resize(..., BILINEAR, antialias=True), ToDtype(float32,
    scale=True), Normalize(mean, std)`` (ToImage before Resize). Resizing the PIL image instead differs by
    up to one grey level when downscaling; that is what the PIL backend (``backend="pil"``) does.
    """
    return ViTImageProcessor(
        do_convert_rgb=True,
        do_resize=True,
        size={"height": config.image_size, "width": config.image_size},
        resample=PILImageResampling.BILINEAR,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=list(config.image_mean),
        image_std=list(config.image_std),
    )


def save_cnn(model: AslCnnForImageClassification, processor, output_dir: str | os.PathLike) -> Path:
    """Write the loadable folder: config.json (with auto_map), model.safetensors, the two code files and
    preprocessor_config.json. Returns the folder."""
    return save_model_folder(model, processor, output_dir)


__all__ = ["AslCnnConfig", "AslCnnForImageClassification", "AslCnnPreTrainedModel", "build_image_processor", "save_cnn"]
