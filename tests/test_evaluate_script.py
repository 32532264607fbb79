"""scripts/evaluate_model.py and the inference path it shares with the benchmark and the Space, on both model kinds."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from PIL import Image

from asl_hf.core.cli import run_cli
from asl_hf.core.constants import CLASS_NAMES
from asl_hf.data.loading import FEATURES
from asl_hf.data.synthetic import generate_synthetic_asl
from asl_hf.core.images import to_rgb
from asl_hf.inference import ImageInputError, ModelLoadError, load_classifier
from asl_hf.models import AslCnnConfig, AslCnnForImageClassification, build_image_processor
from asl_hf.models.mobilenet import create_mobilenetv2, save_mobilenetv2

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "evaluate_model.py"
SUBSET = ["A", "B", "C", "space"]


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory) -> dict[str, Path]:
    """A tiny random CNN and a random MobileNetV2 (64 px), saved the way training saves them."""
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    cnn = AslCnnForImageClassification(AslCnnConfig(image_size=32, conv_channels=[8, 16], hidden_size=16)).eval()
    cnn.save_pretrained(root / "cnn")
    build_image_processor(cnn.config).save_pretrained(root / "cnn")
    save_mobilenetv2(create_mobilenetv2(pretrained=False, image_size=64).eval(), root / "mobilenetv2")
    return {"cnn": root / "cnn", "mobilenetv2": root / "mobilenetv2"}


@pytest.fixture(scope="module")
def subset_folder(tmp_path_factory) -> Path:
    """4 of the 29 classes, 4 images each, plus a non-image file and a truncated JPEG to be skipped."""
    folder = generate_synthetic_asl(tmp_path_factory.mktemp("data") / "subset", images_per_class=4, image_size=64, classes=SUBSET)
    (folder / "A" / "notes.txt").write_text("not an image")
    (folder / "B" / "broken.jpg").write_bytes((folder / "B" / "B1.jpg").read_bytes()[:200])
    return folder


def direct_predictions(model_dir: Path, paths: list[str]) -> list[str]:
    """The model called directly through transformers, without asl_hf.inference."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    processor = AutoImageProcessor.from_pretrained(model_dir)
    model = AutoModelForImageClassification.from_pretrained(model_dir).eval()
    images = [to_rgb(Image.open(path)) for path in paths]
    with torch.no_grad():
        logits = model(pixel_values=processor(images, return_tensors="pt")["pixel_values"]).logits
    return [model.config.id2label[i] for i in logits.argmax(-1).tolist()]


def run_script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args, "--no_progress"], capture_output=True, text=True, env=env, timeout=300)


def script_main():
    spec = importlib.util.spec_from_file_location("evaluate_model_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cnn", "mobilenetv2"])
def test_evaluates_a_class_subset_and_matches_a_direct_model_call(kind, model_dirs, subset_folder):
    result = run_script("--model", str(model_dirs[kind]), "--test_dir", str(subset_folder), "--per_device_eval_batch_size", "5")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = model_dirs[kind] / "eval_subset"  # default: inside the model folder, named after the data
    missing = [name for name in CLASS_NAMES if name not in SUBSET]
    assert f"Missing classes (no images): {', '.join(missing)}" in result.stdout
    assert "notes.txt" in result.stdout and "broken.jpg" in result.stdout  # skipped files are listed
    assert "eval_accuracy:" in result.stdout and "| Class | Precision |" in result.stdout

    report = json.loads((out / "evaluation_report.json").read_text())
    assert report["num_images"] == 16 and report["classes_evaluated"] == SUBSET and report["missing_classes"] == missing
    assert len(report["skipped_files"]) == 2
    assert report["runtime"] == "eager" and "Runs on PyTorch (no model.onnx in the folder)" in result.stdout
    with open(out / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 16 and {row["label"] for row in rows} == set(SUBSET)
    assert [row["predicted"] for row in rows] == direct_predictions(model_dirs[kind], [row["image"] for row in rows])

    accuracy = sum(row["predicted"] == row["label"] for row in rows) / 16
    results = json.loads((out / "eval_results.json").read_text())
    assert results["eval_accuracy"] == pytest.approx(accuracy) and results["eval_samples"] == 16
    per_class = json.loads((out / "per_class_metrics.json").read_text())["subset"]
    assert set(per_class) == set(CLASS_NAMES) and all(per_class[name]["support"] == 4 for name in SUBSET)
    assert (out / "confusion_matrix_subset.png").stat().st_size > 10_000 and (out / "per_class_metrics.md").is_file()


def test_prepared_dataset_split(model_dirs, subset_folder, tmp_path, capsys):
    paths = sorted(str(p) for p in subset_folder.glob("*/*.jpg") if p.name != "broken.jpg")
    labels = [Path(p).parent.name for p in paths]
    split = datasets.Dataset.from_dict({"image": paths, "label": [CLASS_NAMES.index(n) for n in labels]}, features=FEATURES)
    datasets.DatasetDict({"train": split, "test": split}).save_to_disk(str(tmp_path / "prepared"))
    out = tmp_path / "out"
    code = run_cli(script_main(), ["--model", str(model_dirs["cnn"]), "--dataset_dir", str(tmp_path / "prepared"), "--split", "test",
                                   "--output_dir", str(out), "--no_progress"])
    assert code == 0, capsys.readouterr().err
    with open(out / "predictions.csv") as handle:
        predicted = [row["predicted"] for row in csv.DictReader(handle)]
    assert predicted == direct_predictions(model_dirs["cnn"], paths)
    assert "test" in json.loads((out / "per_class_metrics.json").read_text())


def test_flat_folder_named_like_the_public_test_set(model_dirs, subset_folder, tmp_path, capsys):
    """asl_alphabet_test holds A_test.jpg, space_test.jpg ... directly, without class folders."""
    flat = tmp_path / "asl_alphabet_test"
    flat.mkdir()
    for name in SUBSET:
        (flat / f"{name}_test.jpg").write_bytes((subset_folder / name / f"{name}1.jpg").read_bytes())
    (flat / "B_broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    code = run_cli(script_main(), ["--model", str(model_dirs["cnn"]), "--test_dir", str(flat), "--output_dir", str(out), "--no_progress"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "evaluation_report.json").read_text())
    assert report["num_images"] == 4 and report["classes_evaluated"] == SUBSET and len(report["skipped_files"]) == 1
    with open(out / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["label"] for row in rows) == sorted(SUBSET)
    assert all(Path(row["image"]).name == f"{row['label']}_test.jpg" for row in rows)
    assert [row["predicted"] for row in rows] == direct_predictions(model_dirs["cnn"], [row["image"] for row in rows])
    assert (out / "confusion_matrix_asl_alphabet_test.png").is_file()


def nested_public_test_folder(root: Path) -> Path:
    """All 29 classes as asl_alphabet_test/asl_alphabet_test/<CLASS>_test.jpg, as the public download unpacks."""
    source = generate_synthetic_asl(root / "source", images_per_class=1, image_size=32)
    inner = root / "asl_alphabet_test" / "asl_alphabet_test"
    inner.mkdir(parents=True)
    for name in CLASS_NAMES:
        (inner / f"{name}_test.jpg").write_bytes((source / name / f"{name}1.jpg").read_bytes())
    return inner.parent


def test_several_models_on_several_folders_print_one_table(model_dirs, subset_folder, tmp_path, capsys):
    public = nested_public_test_folder(tmp_path)
    out = tmp_path / "out"
    models = [str(model_dirs["cnn"]), str(model_dirs["mobilenetv2"])]
    code = run_cli(script_main(), ["--model", *models, "--test_dir", str(subset_folder), str(public), "--output_dir", str(out), "--no_progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "using the nested folder asl_alphabet_test/asl_alphabet_test" in captured.out

    rows = json.loads((out / "evaluation_table.json").read_text())
    assert [(Path(r["model"]).name, Path(r["data"]).name, r["images"]) for r in rows] == [
        ("cnn", "subset", 16), ("cnn", "asl_alphabet_test", 29), ("mobilenetv2", "subset", 16), ("mobilenetv2", "asl_alphabet_test", 29)]
    missing = [name for name in CLASS_NAMES if name not in SUBSET]
    assert [r["missing_classes"] for r in rows] == [missing, [], missing, []]
    for row in rows:  # each pair's reports sit in <output_dir>/<model name>/<data name> and agree with the table
        pair = out / Path(row["model"]).name / Path(row["data"]).name
        assert row["output_dir"] == str(pair)
        results = json.loads((pair / "eval_results.json").read_text())
        assert results["eval_accuracy"] == pytest.approx(row["accuracy"]) and results["eval_macro_f1"] == pytest.approx(row["macro_f1"])
        report = json.loads((pair / "evaluation_report.json").read_text())
        assert report["missing_classes"] == row["missing_classes"] and report["no_hand_found"] is None
        assert "eval_no_hand_found" not in results

    header = "| model | data | images | accuracy | macro-F1 | ECE | no hand found | missing classes |"
    table = captured.out[captured.out.index(header):].splitlines()
    assert len(table) >= 6 and table[1].startswith("|:--")
    for line, row in zip(table[2:6], rows):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        ece = row["expected_calibration_error"]
        assert cells == [row["model"], row["data"], str(row["images"]), f"{row['accuracy']:.4f}", f"{row['macro_f1']:.4f}",
                         f"{ece:.3f}", "-", ", ".join(row["missing_classes"]) or "none"]  # pixel models never look for a hand
        assert row["no_hand_found"] is None and row["no_hand_found_fraction"] is None
    assert f"Wrote the table to {out / 'evaluation_table.json'}" in captured.out


def test_several_folders_without_output_dir_write_beside_the_model(model_dirs, subset_folder, tmp_path, monkeypatch, capsys):
    model = tmp_path / "cnn"
    shutil.copytree(model_dirs["cnn"], model)
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    code = run_cli(script_main(), ["--model", str(model), "--test_dir", str(subset_folder), str(subset_folder), "--no_progress"])
    assert code == 0, capsys.readouterr().err
    rows = json.loads((tmp_path / "run" / "evaluation_table.json").read_text())  # the table: in the current folder
    assert [row["output_dir"] for row in rows] == [str(model / "eval_subset"), str(model / "eval_subset-2")]
    assert rows[0]["accuracy"] == rows[1]["accuracy"] and len(rows[0]["missing_classes"]) == 25
    assert (model / "eval_subset-2" / "predictions.csv").is_file()


def test_a_bad_folder_among_several_fails_before_anything_is_written(model_dirs, subset_folder, tmp_path, capsys):
    out = tmp_path / "out"
    code = run_cli(script_main(), ["--model", str(model_dirs["cnn"]), str(model_dirs["mobilenetv2"]), "--test_dir", str(subset_folder),
                                   str(tmp_path / "absent"), "--output_dir", str(out), "--no_progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "absent: not a folder" in err and err.count("\n") == 1, err
    assert not out.exists()


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda m, d: ["--model", m, "--test_dir", str(d / "with_unknown")], "class folders ['hello'] are not classes of the model"),
        (lambda m, d: ["--model", m, "--test_dir", str(d / "empty")], "no class folders with files"),
        (lambda m, d: ["--model", m, "--test_dir", str(d / "absent")], "not a folder"),
        (lambda m, d: ["--model", m, "--test_dir", str(d / "with_unknown" / "A")], "file name prefixes ['A1', 'A2'] are not classes"),
        (lambda m, d: ["--model", str(d / "no_model"), "--test_dir", str(d / "with_unknown")], "no such model folder"),
        (lambda m, d: ["--model", "someone/asl-model", "--test_dir", str(d / "with_unknown")], "--output_dir is required"),
        (lambda m, d: ["--model", m, "--dataset_dir", str(d / "empty")], "not a prepared data set"),
    ],
)
def test_bad_input_gives_a_one_line_error(make_args, message, model_dirs, tmp_path, capsys):
    generate_synthetic_asl(tmp_path / "with_unknown", images_per_class=2, image_size=32, classes=["A"])
    (tmp_path / "with_unknown" / "hello").mkdir()
    (tmp_path / "with_unknown" / "hello" / "x.jpg").write_bytes((tmp_path / "with_unknown" / "A" / "A1.jpg").read_bytes())
    (tmp_path / "empty").mkdir()
    code = run_cli(script_main(), make_args(str(model_dirs["cnn"]), tmp_path) + ["--output_dir", str(tmp_path / "out")]
                   if "--output_dir is required" not in message else make_args(str(model_dirs["cnn"]), tmp_path))
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


# --- the inference path -----------------------------------------------------------------------------------------


def test_classifier_matches_the_model_and_orders_top_k(model_dirs):
    """On the CNN (fast); MobileNetV2 goes through the same code, checked against a direct call above."""
    classifier = load_classifier(model_dirs["cnn"], device="cpu", batch_size=3)
    assert classifier.labels == CLASS_NAMES and not classifier.model.training
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (40 + 7 * i, 50, 3), dtype=np.uint8)) for i in range(7)]
    images += [Image.new("L", (30, 30), 128), Image.new("RGBA", (20, 20), (10, 200, 30, 128))]
    probabilities = classifier.predict_proba(images)
    assert probabilities.shape == (9, 29) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    # batching (3 at a time) changes nothing: compare with the whole batch through the model at once
    pixels = classifier.processor([to_rgb(image) for image in images], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        expected = classifier.model(pixel_values=pixels).logits.softmax(-1).numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)

    top = classifier.predict(images[:2], top_k=4)
    assert len(top) == 2 and all(len(row) == 4 for row in top)
    for row, probs in zip(top, probabilities[:2]):
        assert [label for label, _ in row] == [CLASS_NAMES[i] for i in np.argsort(-probs)[:4]]
        assert [score for _, score in row] == sorted((score for _, score in row), reverse=True)
    assert classifier.predict_ids(images) == probabilities.argmax(-1).tolist()
    assert classifier.predict([np.asarray(images[0])], top_k=1) == classifier.predict([images[0]], top_k=1)


def test_classifier_refuses_bad_input(model_dirs):
    classifier = load_classifier(model_dirs["cnn"], device="cpu")
    image = Image.new("RGB", (32, 32))
    with pytest.raises(ImageInputError, match="wrap a single image"):
        classifier.predict(image)
    with pytest.raises(ImageInputError, match="image 1: expected a PIL image"):
        classifier.predict([image, "photo.jpg"])
    with pytest.raises(ImageInputError, match="float32"):
        classifier.predict([np.zeros((8, 8, 3), dtype=np.float32)])
    with pytest.raises(ValueError, match="top_k"):
        classifier.predict([image], top_k=0)
    assert classifier.predict_proba([]).shape == (0, 29)


def test_load_classifier_errors_name_the_source(tmp_path):
    with pytest.raises(ModelLoadError, match="no such model folder"):
        load_classifier(tmp_path / "missing")
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_classifier(tmp_path)
