"""The ``model-index`` of a model card: its evaluation results as the Hub reads them.

First the test and validation splits of the data set trained on (per source too, as that data set's configs, when it
came from several folders), then each extra evaluation in the folder (``eval_<name>/evaluation_report.json``, e.g.
``other_signers_dev``: photos of other signers never trained on), with its calibration error when reported.
"""

from __future__ import annotations

from huggingface_hub import EvalResult

from .training_run import SPLITS, TrainingRun, report_name

EXTRA_SPLIT = "test"
"""The ``dataset_split`` of an extra evaluation: the whole folder is a test set (none of it was used in training)."""


CALIBRATION_METRIC = "expected_calibration_error"
"""``metric_type`` of the calibration error entries (15 equal-width bins; lower is better)."""


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _extra_entries(name: str, report: dict) -> list[EvalResult]:
    """Accuracy, macro-F1 and calibration error (when reported) of one extra evaluation; NaN or missing scores are
    left out."""
    entries = []
    for metric, metric_name, value, args in (("accuracy", "Accuracy", report.get("accuracy"), None),
                                             ("f1", "Macro F1", report.get("macro_f1"), {"average": "macro"}),
                                             (CALIBRATION_METRIC, "Expected calibration error", report.get(CALIBRATION_METRIC), {"bins": 15})):
        if _is_number(value):
            entries.append(EvalResult(
                task_type="image-classification", task_name="Image Classification",
                dataset_type=name, dataset_name=name, dataset_split=EXTRA_SPLIT,
                metric_type=metric, metric_name=metric_name, metric_value=round(float(value), 4), metric_args=args,
            ))
    return entries


def _split_entries(run: TrainingRun, dataset_id: str, dataset_name: str) -> list[EvalResult]:
    """Accuracy and macro-F1 of the test and validation splits of the data set trained on (config ``default``)."""
    entries = []
    for split, prefix, _ in SPLITS:
        for metric, name, args in (("accuracy", "Accuracy", None), ("f1", "Macro F1", {"average": "macro"})):
            key = f"{prefix}_{'accuracy' if metric == 'accuracy' else 'macro_f1'}"
            entries.append(EvalResult(
                task_type="image-classification", task_name="Image Classification",
                dataset_type=dataset_id, dataset_name=dataset_name, dataset_config="default", dataset_split=split,
                metric_type=metric, metric_name=name, metric_value=round(float(run.results[key]), 4), metric_args=args,
            ))
    return entries


def _source_entries(run: TrainingRun, dataset_id: str, dataset_name: str) -> list[EvalResult]:
    """Test accuracy per source (the data set's ``source`` column), one config of the trained-on data set each."""
    return [
        EvalResult(task_type="image-classification", task_name="Image Classification", dataset_type=dataset_id,
                   dataset_name=dataset_name, dataset_config=source, dataset_split="test", metric_type="accuracy",
                   metric_name=f"Accuracy ({source})", metric_value=round(float(scores["accuracy"]), 4))
        for source, scores in (run.results.get("test_per_source") or {}).items() if _is_number(scores.get("accuracy"))
    ]


def eval_results(run: TrainingRun, dataset_id: str, dataset_name: str) -> list[EvalResult]:
    """The Hub's ``model-index`` entries: first accuracy and macro-F1 on the test and validation splits of the data set
    trained on (``dataset_id``/``dataset_name``, config ``default``), then its test accuracy per source (the source's
    name as config), then each extra evaluation in the folder (``eval_<name>/evaluation_report.json``, e.g.
    ``other_signers_dev``: photos of other signers never trained on), with its calibration error.

    An extra evaluation is a local folder, not a Hub data set, so its ``dataset_type`` and ``dataset_name`` are both
    its report name (a stable id; ``model-index`` wants a type, and the Space keys its ranking by the name), its split
    is ``"test"`` (the whole folder is held out) and no ``dataset_config``/``source`` is claimed (there is no Hub config
    and no URL to cite). Reports without an accuracy, without a name, or named like the main data set are left out."""
    entries = _split_entries(run, dataset_id, dataset_name) + _source_entries(run, dataset_id, dataset_name)
    seen = {dataset_name}
    for report in run.extra_evaluations:
        name = report_name(report)
        extra = _extra_entries(name, report) if name and name not in seen else []
        if extra and extra[0].metric_type == "accuracy":  # a report without an accuracy is not an evaluation to list
            seen.add(name)
            entries += extra
    return entries
