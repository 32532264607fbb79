"""The shipped `evaluate` metric against scikit-learn, its offline loading, and the report writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from asl_hf.core.constants import CLASS_NAMES
from asl_hf.evaluation import format_per_class_table, save_confusion_matrix, write_results_json, write_split_report
from asl_hf.evaluation.metrics import METRICS_DIR, compute_classification_metrics, load_metric, metric_path

ABSENT = 7  # a class that never occurs in the references (it may be predicted)


def random_labels(n: int = 300, seed: int = 0) -> tuple[list[int], list[int]]:
    """Mostly-right predictions over 29 classes; class ABSENT never occurs as a reference."""
    rng = np.random.default_rng(seed)
    present = [i for i in range(len(CLASS_NAMES)) if i != ABSENT]
    references = rng.choice(present, size=n)
    predictions = np.where(rng.random(n) < 0.6, references, rng.integers(0, len(CLASS_NAMES), size=n))
    predictions[:3] = ABSENT  # ABSENT is predicted a few times: precision 0, no support
    return predictions.tolist(), references.tolist()


def assert_matches_sklearn(result: dict, predictions: list[int], references: list[int]) -> None:
    labels = list(range(len(CLASS_NAMES)))
    assert result["accuracy"] == pytest.approx(accuracy_score(references, predictions))
    assert result["macro_f1"] == pytest.approx(f1_score(references, predictions, average="macro", zero_division=0))
    precision, recall, f1, support = precision_recall_fscore_support(references, predictions, labels=labels, zero_division=0)
    assert list(result["per_class"]) == CLASS_NAMES
    for i, name in enumerate(CLASS_NAMES):
        row = result["per_class"][name]
        assert row == {"precision": pytest.approx(precision[i]), "recall": pytest.approx(recall[i]),
                       "f1": pytest.approx(f1[i]), "support": int(support[i])}
    assert result["confusion_matrix"] == confusion_matrix(references, predictions, labels=labels).tolist()


def test_metric_matches_sklearn_with_an_absent_class():
    predictions, references = random_labels()
    result = compute_classification_metrics(predictions, references, CLASS_NAMES)
    assert_matches_sklearn(result, predictions, references)
    absent = result["per_class"][CLASS_NAMES[ABSENT]]
    assert absent["support"] == 0 and absent["precision"] == 0.0 and absent["recall"] == 0.0
    assert len(result["confusion_matrix"]) == 29 and all(len(row) == 29 for row in result["confusion_matrix"])
    assert 0.0 < result["accuracy"] < 1.0


def test_add_batch_gives_the_same_result_as_one_call():
    predictions, references = random_labels(seed=1)
    metric = load_metric()
    for start in range(0, len(predictions), 64):  # what training does after gather_for_metrics
        metric.add_batch(predictions=np.array(predictions[start : start + 64]), references=references[start : start + 64])
    result = metric.compute(label_names=CLASS_NAMES)
    assert_matches_sklearn(result, predictions, references)


def test_a_class_missing_from_a_tiny_split_still_gets_a_row():
    result = compute_classification_metrics([0, 1, 1], [0, 1, 0], ["A", "B", "C"])
    assert result["per_class"]["C"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert result["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    # macro-F1 averages over the classes that occur (as scikit-learn does), not over the absent "C"
    assert result["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)


@pytest.mark.parametrize(
    "predictions, references, message",
    [
        ([[0.1, 0.9]], [1], "1-D sequence of integer label ids"),
        ([0, 1], [0], "2 predictions but 1 references"),
        ([], [], "empty"),
        ([0, 5], [0, 1], "outside 0..2"),
    ],
)
def test_bad_inputs_are_refused(predictions, references, message):
    with pytest.raises(ValueError, match=message):
        compute_classification_metrics(predictions, references, ["A", "B", "C"])


def test_unknown_metric_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="asl_classification"):
        metric_path("accuracy")


def test_loads_offline_by_path_in_a_fresh_cache_without_touching_the_package(tmp_path):
    """A clean HF_HOME and no network: evaluate copies the script into its modules cache, not the package."""
    before = sorted(p.name for p in METRICS_DIR.iterdir())
    code = (
        "import evaluate, sys; m = evaluate.load(sys.argv[1]); "
        "r = m.compute(predictions=[0, 1, 1], references=[0, 1, 0], label_names=['A', 'B']); print(r['accuracy'], r['confusion_matrix'])"
    )
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code, str(metric_path())], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[0] == f"{2 / 3} [[1, 1], [0, 1]]"
    assert list((tmp_path / "hf").rglob("asl_classification.py"))  # the copy evaluate imports
    assert sorted(p.name for p in METRICS_DIR.iterdir() if p.name != "__pycache__") == [n for n in before if n != "__pycache__"]


def test_metric_info_is_complete():
    metric = load_metric()
    assert "scikit-learn" in metric.citation.lower() or "pedregosa" in metric.citation.lower()
    assert metric.description and metric.inputs_description
    assert set(metric.features) == {"predictions", "references"}


# --- report writing ---------------------------------------------------------------------------------------------


def test_confusion_matrix_png_is_a_readable_image_with_its_json(tmp_path):
    predictions, references = random_labels()
    matrix = compute_classification_metrics(predictions, references, CLASS_NAMES)["confusion_matrix"]
    png = save_confusion_matrix(matrix, CLASS_NAMES, tmp_path / "cm" / "confusion_matrix_test.png", "Test")
    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        assert image.format == "PNG" and min(image.size) >= 1000  # 29 labels need room
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert len(colours) > 50  # not a blank canvas
    saved = json.loads(png.with_suffix(".json").read_text())
    assert saved["labels"] == CLASS_NAMES and saved["matrix"] == matrix


def test_confusion_matrix_shape_must_match_labels(tmp_path):
    with pytest.raises(ValueError, match="3x3"):
        save_confusion_matrix([[1, 0], [0, 1]], ["A", "B", "C"], tmp_path / "cm.png")


def test_split_reports_merge_validation_and_test(tmp_path):
    results = {}
    for seed, (split, prefix) in enumerate((("validation", "eval"), ("test", "test"))):
        predictions, references = random_labels(seed=seed)
        metrics = compute_classification_metrics(predictions, references, CLASS_NAMES)
        flat = write_split_report(tmp_path, split, metrics, prefix)
        assert flat == {f"{prefix}_accuracy": metrics["accuracy"], f"{prefix}_macro_f1": metrics["macro_f1"], f"{prefix}_samples": 300}
        results.update(flat)
    per_class = json.loads((tmp_path / "per_class_metrics.json").read_text())
    assert set(per_class) == {"validation", "test"}
    assert set(per_class["test"]) == set(CLASS_NAMES) and per_class["test"]["A"].keys() == {"precision", "recall", "f1", "support"}
    assert per_class["validation"] != per_class["test"]
    for split in ("validation", "test"):
        assert (tmp_path / f"confusion_matrix_{split}.png").is_file() and (tmp_path / f"confusion_matrix_{split}.json").is_file()

    write_results_json(tmp_path, {"train_runtime": 1.5, **results})
    write_results_json(tmp_path, {"test_loss": 0.25})  # a later write adds keys, keeps the others
    all_results = json.loads((tmp_path / "all_results.json").read_text())
    eval_results = json.loads((tmp_path / "eval_results.json").read_text())
    assert all_results == {"train_runtime": 1.5, "test_loss": 0.25, **results}
    assert eval_results == {"test_loss": 0.25, **results}


def test_per_class_table_is_markdown_with_one_row_per_class():
    result = compute_classification_metrics([0, 1, 1], [0, 1, 0], ["A", "B", "C"])
    table = format_per_class_table(result["per_class"])
    lines = table.strip().splitlines()
    assert lines[0] == "| Class | Precision | Recall | F1 | Support |" and len(lines) == 2 + 3
    assert lines[2] == "| A | 1.000 | 0.500 | 0.667 | 2 |"
    assert lines[4].startswith("| C |") and "no images" in lines[4]
