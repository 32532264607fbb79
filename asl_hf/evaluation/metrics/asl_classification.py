"""ASL classification metric for the `evaluate` library: accuracy, macro-F1, per-class scores, confusion matrix and,
given the predicted labels' probabilities, the expected calibration error.

A proper ``evaluate.Metric`` shipped inside the package because ``evaluate.load("accuracy")`` fetches its
script from the Hub. Load it by path (``asl_hf.metrics.load_metric()``); ``evaluate`` copies this file into
its modules cache, so the file must stay self-contained: library imports only, no relative imports.
"""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

_DESCRIPTION = """\
Single-label image classification scores computed with scikit-learn in one pass: accuracy, macro-averaged F1,
precision/recall/F1/support for every class, and the confusion matrix. Per-class rows and the confusion matrix
cover every label id (0 .. len(label_names) - 1), so a class missing from a small split still gets a row
(support 0, scores 0 rather than undefined). Macro-F1 follows scikit-learn's default and averages over the
classes that occur in the references or the predictions, so evaluating on a subset of classes is not dragged
down by classes that were never shown nor predicted.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted label ids.
    references (`list` of `int`): true label ids.
    label_names (`list` of `str`, *optional*): the name of every label id, in id order. Defaults to the ids
        as strings, ``0 .. max id seen``.
    confidences (`list` of `float`, *optional*): the model's probability of each predicted label; adds the expected
        calibration error.
    num_bins (`int`, *optional*, defaults to 15): equal-width confidence bins of the calibration error.
Returns:
    accuracy (`float`): fraction of correct predictions.
    macro_f1 (`float`): unweighted mean F1 over the classes present in references or predictions.
    per_class (`dict`): ``{label_name: {"precision", "recall", "f1", "support"}}`` for every label id.
    confusion_matrix (`list` of `list` of `int`): rows are true labels, columns predicted labels, in id order.
    expected_calibration_error (`float`, with ``confidences``): the mean |accuracy - confidence| over equal-width
        confidence bins, weighted by the share of predictions in each bin (Guo et al. 2017): 0 when a model that says
        "80%" is right 80% of the time.
Examples:
    >>> metric = evaluate.load("asl_hf/metrics/asl_classification.py")
    >>> metric.add_batch(predictions=[0, 1], references=[0, 0])
    >>> metric.compute(label_names=["A", "B", "C"])["accuracy"]
    0.5
"""

_CITATION = """\
@article{scikit-learn,
  title={Scikit-learn: Machine Learning in {P}ython},
  author={Pedregosa, F. and Varoquaux, G. and Gramfort, A. and Michel, V. and Thirion, B. and Grisel, O. and
          Blondel, M. and Prettenhofer, P. and Weiss, R. and Dubourg, V. and Vanderplas, J. and Passos, A. and
          Cournapeau, D. and Brucher, M. and Perrot, M. and Duchesnay, E.},
  journal={Journal of Machine Learning Research},
  volume={12},
  pages={2825--2830},
  year={2011}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class AslClassification(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
            reference_urls=["https://scikit-learn.org/stable/modules/model_evaluation.html#classification-metrics"],
        )

    def _compute(self, predictions, references, label_names=None, confidences=None, num_bins=15):
        predictions = np.asarray(predictions, dtype=np.int64)
        references = np.asarray(references, dtype=np.int64)
        if predictions.size == 0:
            raise ValueError("no predictions to score (the evaluated split is empty)")
        if label_names is None:
            label_names = [str(i) for i in range(int(max(predictions.max(), references.max())) + 1)]
        label_names = [str(name) for name in label_names]
        labels = np.arange(len(label_names))
        out_of_range = sorted(set(np.concatenate([predictions, references]).tolist()) - set(labels.tolist()))
        if out_of_range:
            raise ValueError(f"label ids {out_of_range} are outside 0..{len(label_names) - 1} ({len(label_names)} label names)")

        precision, recall, f1, support = precision_recall_fscore_support(
            references, predictions, labels=labels, average=None, zero_division=0
        )
        per_class = {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(label_names, precision, recall, f1, support)
        }
        scores = {
            "accuracy": float(accuracy_score(references, predictions)),
            "macro_f1": float(f1_score(references, predictions, average="macro", zero_division=0)),
            "per_class": per_class,
            "confusion_matrix": confusion_matrix(references, predictions, labels=labels).tolist(),
        }
        if confidences is not None:
            scores["expected_calibration_error"] = expected_calibration_error(confidences, predictions == references, num_bins)
        return scores


def expected_calibration_error(confidences, correct, num_bins=15):
    """Weighted mean |accuracy - mean confidence| over ``num_bins`` equal-width bins of (0, 1]."""
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if confidences.shape != correct.shape:
        raise ValueError(f"{confidences.size} confidences for {correct.size} predictions")
    bins = np.clip(np.ceil(confidences * num_bins).astype(int) - 1, 0, num_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        members = bins == b
        error += members.mean() * abs(correct[members].mean() - confidences[members].mean())
    return float(error)
