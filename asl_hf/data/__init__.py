"""The data pipeline: scan a raw folder, load it as a ``datasets`` imagefolder, split, save, describe."""

from .card import build_dataset_card
from .loading import FEATURES, load_hub_dataset, load_image_folder, load_prepared_dataset
from .prepare import PreparedData, atomic_output_dir, load_and_split, prepare_dataset
from .scan import ScanReport, resolve_nested_root, scan_image_folder
from .splitting import SPLIT_BY_CHOICES, format_split_table, split_dataset
from .synthetic import ensure_default_data, generate_synthetic_asl

__all__ = [
    "FEATURES",
    "PreparedData",
    "SPLIT_BY_CHOICES",
    "ScanReport",
    "atomic_output_dir",
    "build_dataset_card",
    "ensure_default_data",
    "format_split_table",
    "generate_synthetic_asl",
    "load_and_split",
    "load_hub_dataset",
    "load_image_folder",
    "load_prepared_dataset",
    "prepare_dataset",
    "resolve_nested_root",
    "scan_image_folder",
    "split_dataset",
]
