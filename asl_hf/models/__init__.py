"""Model definitions. Importing this registers the custom CNN with transformers' Auto classes."""

from .asl_cnn import AslCnnConfig, AslCnnForImageClassification, AslCnnPreTrainedModel, build_image_processor, save_cnn

__all__ = ["AslCnnConfig", "AslCnnForImageClassification", "AslCnnPreTrainedModel", "build_image_processor", "save_cnn"]
