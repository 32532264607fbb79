"""Model definitions. Importing this registers the custom CNN with transformers' Auto classes."""

from .asl_cnn import AslCnnConfig, AslCnnForImageClassification, build_image_processor

__all__ = ["AslCnnConfig", "AslCnnForImageClassification", "build_image_processor"]
