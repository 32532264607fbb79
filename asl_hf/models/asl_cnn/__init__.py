"""The compact ASL CNN: config, model, registration with the Auto classes, and its image processor."""

from transformers import AutoConfig, AutoModelForImageClassification, ViTImageProcessor

from .configuration_asl_cnn import AslCnnConfig
from .modeling_asl_cnn import AslCnnForImageClassification, AslCnnPreTrainedModel

AutoConfig.register(AslCnnConfig.model_type, AslCnnConfig, exist_ok=True)
AutoModelForImageClassification.register(AslCnnConfig, AslCnnForImageClassification, exist_ok=True)
# Saved folders carry the code (auto_map + the two files), so they load with trust_remote_code=True anywhere.
AslCnnConfig.register_for_auto_class()
AslCnnForImageClassification.register_for_auto_class("AutoModelForImageClassification")


def build_image_processor(config: AslCnnConfig) -> ViTImageProcessor:
    """A standard transformers image processor (no custom code): resize to the model's square size
    (bilinear), rescale 1/255, normalise with the model's mean/std; saved as preprocessor_config.json."""
    return ViTImageProcessor(
        size={"height": config.image_size, "width": config.image_size},
        resample=2,  # PILImageResampling.BILINEAR
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=list(config.image_mean),
        image_std=list(config.image_std),
    )


__all__ = ["AslCnnConfig", "AslCnnForImageClassification", "AslCnnPreTrainedModel", "build_image_processor"]
