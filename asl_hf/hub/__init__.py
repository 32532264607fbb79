"""Publishing to the Hugging Face Hub: model repos with evaluation cards, the prepared data set, the Space."""

from .model_card import build_model_card, detect_model_kind
from .publish import hub_errors, push_dataset, push_dataset_folder, push_model_folder, resolve_token, stage_model_folder
from .space import SPACE_EXAMPLE_CLASSES, push_space, select_space_examples, space_files, stage_space_folder

__all__ = [
    "SPACE_EXAMPLE_CLASSES", "build_model_card", "detect_model_kind", "hub_errors", "push_dataset", "push_dataset_folder",
    "push_model_folder", "push_space", "resolve_token", "select_space_examples", "space_files", "stage_model_folder",
    "stage_space_folder",
]
