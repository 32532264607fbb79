"""Evaluation: the metric module (``evaluate``), the report files, and scoring a saved model on labelled images."""

from .metrics import compute_classification_metrics, load_metric
from .reports import (
    format_per_class_table,
    no_hand_counts,
    save_confusion_matrix,
    write_results_json,
    write_split_report,
)
from .scoring import (
    EvaluationResult,
    LabelledImages,
    accuracy_by_source,
    dataset_split_images,
    evaluate_classifier,
    evaluation_table_row,
    folder_images,
    format_evaluation_table,
    format_no_hand,
    no_hand_sentence,
    report_name,
    shown_classes,
    source_names,
    write_evaluation,
)

__all__ = [
    "EvaluationResult", "LabelledImages", "accuracy_by_source", "compute_classification_metrics", "dataset_split_images", "evaluate_classifier",
    "evaluation_table_row", "folder_images", "format_evaluation_table", "format_no_hand", "format_per_class_table",
    "load_metric", "no_hand_counts", "no_hand_sentence", "report_name", "save_confusion_matrix", "shown_classes",
    "source_names", "write_evaluation", "write_results_json", "write_split_report",
]
