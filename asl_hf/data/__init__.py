"""The data pipeline: scan raw folders, load them as one ``datasets`` data set (a ``source`` per folder), split, save, describe."""

from .card import build_dataset_card
from .loading import FEATURES, load_hub_dataset, load_image_folder, load_image_folders, load_prepared_dataset
from .prepare import PreparedData, atomic_output_dir, load_and_split, prepare_dataset
from .scan import ScanReport, SourcesReport, check_class_folders, resolve_nested_root, scan_image_folder
from .splitting import (
    SPLIT_BY_CHOICES,
    count_groups,
    format_source_class_table,
    format_source_table,
    format_split_table,
    group_key,
    split_dataset,
)
from .synthetic import ensure_default_data, generate_synthetic_asl

__all__ = [
    "FEATURES",
    "PreparedData",
    "SPLIT_BY_CHOICES",
    "ScanReport",
    "SourcesReport",
    "atomic_output_dir",
    "build_dataset_card",
    "check_class_folders",
    "count_groups",
    "ensure_default_data",
    "format_source_class_table",
    "format_source_table",
    "format_split_table",
    "generate_synthetic_asl",
    "group_key",
    "load_and_split",
    "load_hub_dataset",
    "load_image_folder",
    "load_image_folders",
    "load_prepared_dataset",
    "prepare_dataset",
    "resolve_nested_root",
    "scan_image_folder",
    "split_dataset",
]
