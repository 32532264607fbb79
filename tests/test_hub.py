"""Publishing to the Hub against the loopback server (tests/hub_server.py) with the real clients.

Only the evaluation files of a training output folder are faked (JSON numbers, small PNGs); the models are
real saved models, and every download goes through transformers, timm or datasets in a fresh process or
in-process with the endpoint patched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results
from PIL import Image

import asl_hf
from asl_hf.core.cli import run_cli
from asl_hf.core.constants import CLASS_NAMES
from asl_hf.core.errors import HubError, OutputExistsError
from asl_hf.hub import SPACE_EXAMPLE_CLASSES, push_dataset, push_dataset_folder, push_model_folder, push_space, select_space_examples
from asl_hf.hub.model_card import ModelFolderError, build_model_card
from asl_hf.models.asl_landmarks.image_processing_asl_landmarks import DEFAULT_DETECTION_ATTEMPTS
from tests.hub_server import validate_metadata
from tests.markers import needs_mediapipe

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET = "hf_secret_from_the_training_command_line"


def write_fake_results(folder: Path, kind: str, accuracy: float = 0.91, pretrained: bool = False) -> None:
    """The evaluation files training writes beside the model (numbers made up; the model beside them is real)."""
    results = {
        "train_runtime": 12.5, "train_samples_per_second": 80.0, "epoch": 3, "best_epoch": 2, "num_parameters": 12345,
        "eval_accuracy": accuracy, "eval_macro_f1": accuracy - 0.02, "eval_loss": 0.4,
        "test_accuracy": accuracy - 0.01, "test_macro_f1": accuracy - 0.03, "test_loss": 0.45,
    }
    (folder / "all_results.json").write_text(json.dumps(results))
    (folder / "eval_results.json").write_text(json.dumps({k: v for k, v in results.items() if k[:5] in ("eval_", "test_")}))
    per_class = {split: {name: {"precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 3} for name in CLASS_NAMES}
                 for split in ("validation", "test")}
    per_class["test"]["nothing"] = {"precision": float("nan"), "recall": 0.0, "f1": None, "support": 0}  # no test images
    (folder / "per_class_metrics.json").write_text(json.dumps(per_class))
    for split in ("validation", "test"):
        Image.new("RGB", (24, 24), (200, 30, 30)).save(folder / f"confusion_matrix_{split}.png")
        (folder / f"confusion_matrix_{split}.json").write_text(json.dumps({"labels": CLASS_NAMES, "matrix": [[0] * 29] * 29}))
    args = {"model": kind, "learning_rate": 0.002, "num_train_epochs": 3, "per_device_train_batch_size": 8, "seed": 42,
            "rotation": 15.0, "shift": 0.1, "shear": 10.0, "zoom": 0.1, "color_jitter": 0.2, "horizontal_flip": False,
            "no_pretrained": not pretrained, "hub_token": SECRET, "lr_scheduler_type": "cosine", "num_warmup_steps": "None"}
    if kind == "mobilenetv2":
        args.update({"finetune_learning_rate": 1e-4, "finetune_epochs": 2, "unfreeze_blocks": 3})
    (folder / "training_args.json").write_text(json.dumps(args))
    (folder / "dataset_info.json").write_text(json.dumps({"dataset_name": None, "train_dir": "/data/asl", "split_by": "random",
                                                          "seed": 42, "num_train": 232, "num_validation": 29, "num_test": 29}))
    (folder / "trainer_state.json").write_text("{}")
    # Training leftovers that must never be published.
    (folder / "checkpoints" / "epoch_1").mkdir(parents=True)
    (folder / "checkpoints" / "epoch_1" / "optimizer.bin").write_bytes(b"\0" * 64)
    (folder / "best_model").mkdir()
    (folder / "best_model" / "model.safetensors").write_bytes(b"\0" * 64)
    (folder / "runs").mkdir()
    (folder / "runs" / "events.out.tfevents.1").write_bytes(b"\0" * 16)
    (folder / "pytorch_model.bin").write_bytes(b"\0" * 64)


def make_cnn_folder(folder: Path):
    from asl_hf.models import AslCnnConfig, AslCnnForImageClassification, build_image_processor

    torch.manual_seed(0)
    model = AslCnnForImageClassification(AslCnnConfig(image_size=32, conv_channels=[8, 16], hidden_size=16)).eval()
    model.save_pretrained(folder)
    build_image_processor(model.config).save_pretrained(folder)
    write_fake_results(folder, "cnn")
    return model


def make_mobilenet_folder(folder: Path, pretrained: bool = False):
    from asl_hf.models.mobilenet import create_mobilenetv2, save_mobilenetv2

    torch.manual_seed(0)
    model = create_mobilenetv2(pretrained=False, image_size=64).eval()
    save_mobilenetv2(model, folder)
    write_fake_results(folder, "mobilenetv2", accuracy=0.95, pretrained=pretrained)
    return model


def folder_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def python_snippets(card_text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", card_text, re.S)


def run_fresh_python(code: str, env: dict, cwd: Path) -> str:
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


# --- the card -----------------------------------------------------------------------------------------------


def test_card_metadata_round_trips_and_validates(tmp_path):
    cnn_dir, mnv2_dir = tmp_path / "cnn", tmp_path / "mnv2"
    make_cnn_folder(cnn_dir)
    make_mobilenet_folder(mnv2_dir, pretrained=True)
    card = build_model_card(cnn_dir, "user/asl-cnn", other_model_dir=mnv2_dir, dataset_id="user/asl-alphabet")
    card.save(tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    assert loaded.data.eval_results == card.data.eval_results
    name, results = model_index_to_eval_results(loaded.data.to_dict()["model-index"])
    assert name == "asl-cnn" and len(results) == 4
    by_key = {(r.dataset_split, r.metric_type): r for r in results}
    assert by_key[("test", "accuracy")].metric_value == 0.9 and by_key[("validation", "f1")].metric_value == 0.89
    assert {r.dataset_type for r in results} == {"user/asl-alphabet"} and {r.dataset_config for r in results} == {"default"}
    assert by_key[("test", "f1")].metric_args == {"average": "macro"}
    assert loaded.data.library_name == "transformers" and loaded.data.pipeline_tag == "image-classification"
    assert loaded.data.license == "apache-2.0" and loaded.data.datasets == ["user/asl-alphabet"]
    assert loaded.data.base_model is None  # the CNN has no pretrained base
    assert validate_metadata(str(card), "model") == []
    text = loaded.text
    assert "(confusion_matrix_test.png)" in text and "## Comparison" in text and "MobileNetV2" in text
    assert "| `nothing` | n/a | 0.000 | n/a | 0 |" in text
    assert "one signer" in text and "J and Z" in text and "| `space` |" in text
    assert 'pipeline("image-classification", model="user/asl-cnn", trust_remote_code=True)' in text
    assert SECRET not in str(card)
    assert "| Schedule | `cosine` |" in text and "Warm-up steps" not in text  # unset options ("None") are left out

    mnv2_card = build_model_card(mnv2_dir, "user/asl-mobilenetv2")
    assert mnv2_card.data.library_name == "timm" and mnv2_card.data.base_model == "timm/mobilenetv2_100.ra_in1k"
    assert "Phase 2, fine-tuning" in mnv2_card.text and 'timm.create_model("hf-hub:user/asl-mobilenetv2", pretrained=True)' in mnv2_card.text
    assert mnv2_card.data.eval_results[0].dataset_type == "imagefolder"  # no Hub data set recorded at training
    (mnv2_dir / "training_args.json").write_text(json.dumps({"model": "mobilenetv2", "no_pretrained": True}))
    assert build_model_card(mnv2_dir, "user/asl-mobilenetv2").data.base_model is None


def test_card_model_index_lists_the_other_test_sets_after_the_training_data(tmp_path):
    from huggingface_hub import metadata_eval_result

    folder = tmp_path / "cnn"
    make_cnn_folder(folder)
    main_only = build_model_card(folder, "user/asl-cnn", dataset_id="user/asl-alphabet").data.eval_results
    reports = {  # as scripts/evaluate_model.py writes them (fields the card does not read left out)
        "eval_other_signers_dev": {"data": "/home/me/shared/data/other_signers_dev", "split_name": "other_signers_dev",
                                   "num_images": 1512, "accuracy": 0.07123, "macro_f1": 0.05, "missing_classes": ["del"],
                                   "expected_calibration_error": 0.31234},
        "eval_asl_alphabet_test": {"data": "../data/asl_alphabet_test", "num_images": 28, "accuracy": 0.9643, "macro_f1": None},
        "eval_broken": {"data": "../data/broken", "num_images": 0, "accuracy": None},  # no accuracy: not an evaluation
    }
    for subfolder, report in reports.items():
        (folder / subfolder).mkdir()
        (folder / subfolder / "evaluation_report.json").write_text(json.dumps(report))
    card = build_model_card(folder, "user/asl-cnn", dataset_id="user/asl-alphabet")
    card.save(tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    assert loaded.data.eval_results == card.data.eval_results
    assert validate_metadata(str(card), "model") == []
    name, results = model_index_to_eval_results(loaded.data.to_dict()["model-index"])
    assert name == "asl-cnn" and results[:4] == main_only  # the training data set's entries first, unchanged
    extra = [(r.dataset_type, r.dataset_name, r.dataset_split, r.metric_type, r.metric_value, r.metric_args) for r in results[4:]]
    assert extra == [("asl_alphabet_test", "asl_alphabet_test", "test", "accuracy", 0.9643, None),  # no macro-F1 reported
                     ("other_signers_dev", "other_signers_dev", "test", "accuracy", 0.0712, None),
                     ("other_signers_dev", "other_signers_dev", "test", "f1", 0.05, {"average": "macro"}),
                     ("other_signers_dev", "other_signers_dev", "test", "expected_calibration_error", 0.3123, {"bins": 15})]
    assert {r.task_type for r in results} == {"image-classification"} and results[4].dataset_config is None
    model_index = loaded.data.to_dict()["model-index"][0]["results"]
    assert [entry["dataset"]["name"] for entry in model_index] == ["ASL Alphabet", "ASL Alphabet", "asl_alphabet_test", "other_signers_dev"]
    from asl_hf.inference.reports import scores_from_eval_results
    scores = scores_from_eval_results(results)  # what the Space reads back
    assert scores.other_sets == {"asl_alphabet_test": 0.9643, "other_signers_dev": 0.0712}
    assert scores.calibration_error == {"other_signers_dev": 0.3123}
    assert "/home/me" not in str(card)  # the local path of the photos is not published
    # the one-result metadata helper of huggingface_hub writes the same entry the card holds
    single = metadata_eval_result(model_pretty_name="asl-cnn", task_pretty_name="Image Classification", task_id="image-classification",
                                  metrics_pretty_name="Accuracy", metrics_id="accuracy", metrics_value=0.0712,
                                  dataset_pretty_name="other_signers_dev", dataset_id="other_signers_dev", dataset_split="test")
    (parsed,) = model_index_to_eval_results(single["model-index"])[1]
    assert dataclasses.replace(parsed, verified=None) == results[5]  # metadata_eval_result marks it verified=False
    text = loaded.text
    assert "| `other_signers_dev` | 1512 | 7.12% | 5.00% | 0.312 | del |" in text and "| `broken` | 0 | n/a | n/a | n/a | - |" in text


def test_card_lists_the_sources_with_their_test_accuracy(tmp_path):
    """Trained on several folders: the card's per-source table (images per split, accuracy per source, images per class
    and source) and one model-index entry per source (a config of the trained-on data set, never an 'other' set)."""
    from asl_hf.inference.reports import scores_from_eval_results

    folder = tmp_path / "cnn"
    make_cnn_folder(folder)
    info = json.loads((folder / "dataset_info.json").read_text())
    info.update({"train_dirs": ["/data/asl_alphabet_sample", "/data/other_signers_train"], "split_by": "group", "sources": {
        "asl_alphabet_sample": {"dir": "/data/asl_alphabet_sample", "num_train": 3480, "num_validation": 435, "num_test": 435,
                                "class_counts": {"A": 150, "nothing": 150}},
        "other_signers_train": {"dir": "/data/other_signers_train", "num_train": 1035, "num_validation": 130, "num_test": 130,
                                "class_counts": {"A": 50}}}})
    (folder / "dataset_info.json").write_text(json.dumps(info))
    results = json.loads((folder / "all_results.json").read_text())
    results.update({"test_per_source": {"asl_alphabet_sample": {"accuracy": 0.98, "images": 435},
                                        "other_signers_train": {"accuracy": 0.9615, "images": 130}},
                    "eval_per_source": {"asl_alphabet_sample": {"accuracy": 0.97, "images": 435}},
                    "test_expected_calibration_error": 0.021, "temperature": 1.7})
    (folder / "all_results.json").write_text(json.dumps(results))
    card = build_model_card(folder, "user/asl-cnn")
    assert validate_metadata(str(card), "model") == []
    text = card.text
    assert "| `asl_alphabet_sample` | `asl_alphabet_sample` | 3480 | 435 | 435 | 97.00% | 98.00% |" in text
    assert "| `other_signers_train` | `other_signers_train` | 1035 | 130 | 130 | n/a | 96.15% |" in text
    assert "| `A` | 150 | 50 |" in text and "| `nothing` | 150 | 0 |" in text
    assert "T = 1.7, fitted on the validation split" in text and "| Test |" in text and "| 0.021 |" in text
    assert "`asl_alphabet_sample` + `other_signers_train`" in text
    per_source = [(r.dataset_config, r.metric_value) for r in card.data.eval_results if r.dataset_config not in (None, "default")]
    assert per_source == [("asl_alphabet_sample", 0.98), ("other_signers_train", 0.9615)]
    scores = scores_from_eval_results(card.data.eval_results)
    assert scores.accuracy == round(results["test_accuracy"], 4) and scores.other_sets == {}  # sources are not other signers


def make_landmarks_folder(folder: Path) -> None:
    """An untrained landmark model with made-up training results, hand-found rates and one other test set."""
    from asl_hf.models.asl_landmarks import AslLandmarksConfig, AslLandmarksForImageClassification, AslLandmarksImageProcessor, save_landmarks_model

    save_landmarks_model(AslLandmarksForImageClassification(AslLandmarksConfig(hidden_sizes=[64, 32])), AslLandmarksImageProcessor(), folder)
    write_fake_results(folder, "landmarks", accuracy=0.8)
    results = json.loads((folder / "all_results.json").read_text())
    results.update({"eval_no_hand_found": 4, "eval_no_hand_found_fraction": 0.125,  # what training writes
                    "test_no_hand_found": 2, "test_no_hand_found_fraction": 0.0625})
    (folder / "all_results.json").write_text(json.dumps(results))
    (folder / "training_args.json").write_text(json.dumps({"model": "landmarks", "architecture": "asl_landmarks", "learning_rate": 0.001,
                                                           "num_train_epochs": 40, "seed": 42, "rotation": 30.0, "zoom": 0.1,
                                                           "landmark_noise": 0.02, "shear": 5.0, "hub_token": SECRET}))
    (folder / "eval_other_signers_dev").mkdir()
    (folder / "eval_other_signers_dev" / "evaluation_report.json").write_text(json.dumps({
        "data": "../shared/data/other_signers_dev", "num_images": 1512, "accuracy": 0.3512, "macro_f1": 0.3311,
        "missing_classes": ["del", "nothing", "space"], "no_hand_found": 90, "no_hand_found_fraction": 0.0595}))


def test_landmarks_card_explains_mediapipe_and_reports_hand_found_rates(tmp_path):
    make_landmarks_folder(tmp_path / "landmarks")
    card = build_model_card(tmp_path / "landmarks", "user/asl-landmarks")
    assert validate_metadata(str(card), "model") == []
    name, results = model_index_to_eval_results(card.data.to_dict()["model-index"])
    by_key = {(r.dataset_name, r.dataset_split, r.metric_type): r.metric_value for r in results}
    main = "ASL Alphabet (local image folder)"
    assert name == "asl-landmarks" and by_key == {(main, "test", "accuracy"): 0.79, (main, "test", "f1"): 0.77,
                                                  (main, "validation", "accuracy"): 0.8, (main, "validation", "f1"): 0.78,
                                                  ("other_signers_dev", "test", "accuracy"): 0.3512,
                                                  ("other_signers_dev", "test", "f1"): 0.3311}
    assert card.data.library_name == "transformers" and "mediapipe" in card.data.tags and card.data.base_model is None
    text = card.text
    assert "# ASL fingerspelling: hand-landmark classifier" in text
    assert 'pip install "mediapipe==0.10.14"' in text and "21 landmarks" in text
    assert "hidden layers of 64, 32 units" in text and "mirrored hand is classified too" in text and f"{len(DEFAULT_DETECTION_ATTEMPTS)} detection settings" in text
    assert 'pipeline("image-classification", model="user/asl-landmarks", trust_remote_code=True)' in text
    assert 'inputs["hand_found"]' in text
    # hand-found rates: validation and test from all_results.json, the other signers from their evaluation_report.json
    assert "| Validation | 29 | 80.00% | 78.00% | n/a | 0.4000 | 87.50% |" in text
    assert "| Test | 29 | 79.00% | 77.00% | n/a | 0.4500 | 93.75% |" in text
    assert "| `other_signers_dev` | 1512 | 35.12% | 33.11% | n/a | 94.05% | del, nothing, space |" in text
    assert "| Rotation about each axis (degrees, +-) | `30.0` |" in text and "| Per-point noise (fraction of the hand's size) | `0.02` |" in text
    assert "Shear" not in text  # image augmentation does not apply to landmarks
    assert SECRET not in str(card)
    data = json.loads((tmp_path / "landmarks" / "all_results.json").read_text())
    del data["test_no_hand_found_fraction"]
    data["eval_no_hand_found_fraction"] = 0.25
    (tmp_path / "landmarks" / "all_results.json").write_text(json.dumps(data))
    text = build_model_card(tmp_path / "landmarks", "user/asl-landmarks").text
    assert "| Validation | 29 | 80.00% | 78.00% | n/a | 0.4000 | 75.00% |" in text
    assert "| Test | 29 | 79.00% | 77.00% | n/a | 0.4500 | n/a |" in text  # not reported: n/a, never a made-up rate


def test_card_needs_the_evaluation_files(tmp_path):
    make_cnn_folder(tmp_path)
    (tmp_path / "all_results.json").unlink()
    (tmp_path / "eval_results.json").unlink()
    with pytest.raises(ModelFolderError, match="all_results.json: missing"):
        build_model_card(tmp_path, "user/asl-cnn")


# --- models -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_pushed_models_load_back_in_a_fresh_process(hub, subprocess_env, tmp_path):
    """CNN with transformers (remote code, pipeline), MobileNetV2 with timm and transformers; the card's snippets run.

    One subprocess for both models: importing torch, transformers and timm dominates the time.
    """
    cnn_dir, mnv2_dir = tmp_path / "cnn", tmp_path / "mnv2"
    cnn, mnv2 = make_cnn_folder(cnn_dir), make_mobilenet_folder(mnv2_dir)
    before = folder_digest(cnn_dir)
    assert push_model_folder(cnn_dir, "user/asl-cnn", other_model_dir=mnv2_dir) == f"{hub.url}/user/asl-cnn"
    assert push_model_folder(mnv2_dir, "user/asl-mobilenetv2") == f"{hub.url}/user/asl-mobilenetv2"
    assert folder_digest(cnn_dir) == before  # the local folder is only read

    files = hub.files("user/asl-cnn")
    assert {"config.json", "model.safetensors", "configuration_asl_cnn.py", "modeling_asl_cnn.py", "preprocessor_config.json",
            "README.md", "all_results.json", "per_class_metrics.json", "confusion_matrix_test.png"} <= set(files)
    assert not any(p.startswith(("checkpoints/", "best_model/", "runs/")) or p.endswith((".bin", ".pt", ".pkl")) for p in files)
    assert "trainer_state.json" not in files
    assert SECRET not in files["training_args.json"].decode() and "hub_token" not in files["training_args.json"].decode()
    commits = hub.commits("user/asl-cnn")
    assert len(commits) == 2 and commits[0].title.startswith("Upload custom CNN") and re.fullmatch(r"[0-9a-f]{40}", commits[0].oid)
    assert any(call["repoType"] == "model" and not call["errors"] and "model-index" in call["content"] for call in hub.validate_yaml_calls)
    mnv2_files = hub.files("user/asl-mobilenetv2")
    mnv2_card = ModelCard(mnv2_files["README.md"].decode())
    assert mnv2_card.data.library_name == "timm" and mnv2_card.data.base_model is None  # trained with no_pretrained

    Image.new("RGB", (48, 40), (120, 90, 60)).save(tmp_path / "hand.jpg")
    from transformers import AutoImageProcessor

    cnn_pixels = AutoImageProcessor.from_pretrained(cnn_dir)(Image.open(tmp_path / "hand.jpg"), return_tensors="pt")["pixel_values"]
    mnv2_pixels = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = {"cnn": (cnn_pixels, cnn(pixel_values=cnn_pixels).logits, cnn.state_dict()),
                    "mnv2": (mnv2_pixels, mnv2(mnv2_pixels), mnv2.state_dict())}
    torch.save(expected, tmp_path / "expected.pt")
    snippets = python_snippets(files["README.md"].decode()) + python_snippets(mnv2_card.text)
    assert len(snippets) == 4
    code = textwrap.dedent("""
        import timm, torch
        from transformers import AutoModelForImageClassification, pipeline

        def same(model, name):  # same weights bit for bit; logits may differ in the last bits across processes
            pixels, logits, state = expected[name]
            mine = model.state_dict()
            assert mine.keys() == state.keys() and all(torch.equal(mine[k], state[k]) for k in mine), name
            with torch.no_grad():
                out = model(pixel_values=pixels) if name == "cnn" else model(pixels)
            out = getattr(out, "logits", out)
            assert torch.allclose(out, logits, rtol=0, atol=1e-5), (name, (out - logits).abs().max())

        expected = torch.load("expected.pt")
        cnn = AutoModelForImageClassification.from_pretrained("user/asl-cnn", trust_remote_code=True).eval()
        same(cnn, "cnn")
        top = pipeline("image-classification", model="user/asl-cnn", trust_remote_code=True)("hand.jpg", top_k=1)[0]
        assert top["label"] == cnn.config.id2label[int(expected["cnn"][1].argmax())], top
        same(timm.create_model("hf-hub:user/asl-mobilenetv2", pretrained=True).eval(), "mnv2")
        wrapped = AutoModelForImageClassification.from_pretrained("user/asl-mobilenetv2").eval()
        pixels, logits, _ = expected["mnv2"]
        with torch.no_grad():
            assert torch.allclose(wrapped(pixel_values=pixels).logits, logits, rtol=0, atol=1e-5)
        print("LOADED", type(cnn).__name__, type(wrapped).__name__, wrapped.config.id2label[28])
    """) + "\n".join(snippets)
    out = run_fresh_python(code, subprocess_env, tmp_path)
    assert "LOADED AslCnnForImageClassification TimmWrapperForImageClassification space" in out


@pytest.mark.slow
@needs_mediapipe
def test_pushed_landmark_model_loads_back_in_a_fresh_process(hub, subprocess_env, tmp_path):
    """The hand-landmark folder: pushed with its card and code, then model, MediaPipe processor and pipeline load from
    the repo id with remote code; the card's snippets run (a photo without a hand: `nothing`, "no hand found")."""
    folder = tmp_path / "landmarks"
    make_landmarks_folder(folder)
    assert push_model_folder(folder, "user/asl-landmarks") == f"{hub.url}/user/asl-landmarks"
    files = hub.files("user/asl-landmarks")
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "configuration_asl_landmarks.py",
            "modeling_asl_landmarks.py", "image_processing_asl_landmarks.py", "README.md"} <= set(files)
    assert hub.commits("user/asl-landmarks")[0].title.startswith("Upload hand-landmark classifier")
    Image.new("RGB", (64, 64), (128, 128, 128)).save(tmp_path / "hand.jpg")
    snippets = python_snippets(files["README.md"].decode())
    assert len(snippets) == 2
    code = textwrap.dedent("""
        import torch
        from safetensors.torch import load_file
        from transformers import AutoImageProcessor, AutoModelForImageClassification, pipeline

        model = AutoModelForImageClassification.from_pretrained("user/asl-landmarks", trust_remote_code=True).eval()
        saved = load_file(%r)
        assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
        processor = AutoImageProcessor.from_pretrained("user/asl-landmarks", trust_remote_code=True)
        assert type(processor).__name__ == "AslLandmarksImageProcessor" and processor.detection_attempts == %r
        top = pipeline("image-classification", model="user/asl-landmarks", trust_remote_code=True)("hand.jpg", top_k=1)[0]
        assert top["label"] == "nothing" and top["score"] > 0.9999, top
        print("LOADED", type(model).__name__)
    """ % (str(folder / "model.safetensors"), DEFAULT_DETECTION_ATTEMPTS)) + "\n".join(snippets)
    out = run_fresh_python(code, subprocess_env, tmp_path)
    assert "LOADED AslLandmarksForImageClassification" in out and "no hand found" in out


def test_second_push_is_a_second_commit_in_the_same_repo_and_pr_and_branch_work(hub, tmp_path):
    make_cnn_folder(tmp_path / "cnn")
    push_model_folder(tmp_path / "cnn", "user/asl-cnn")
    push_model_folder(tmp_path / "cnn", "user/asl-cnn")  # nothing changed: the client makes no empty commit
    assert len(hub.commits("user/asl-cnn")) == 2
    results = json.loads((tmp_path / "cnn" / "all_results.json").read_text())
    (tmp_path / "cnn" / "all_results.json").write_text(json.dumps({**results, "test_accuracy": 0.97}))
    push_model_folder(tmp_path / "cnn", "user/asl-cnn", commit_message="Retrained")
    commits = hub.commits("user/asl-cnn")
    assert [c.title for c in commits[:2]] == ["Retrained", commits[1].title] and commits[0].parent == commits[1].oid
    assert len([r for r in hub.state.repos if r[1] == "user/asl-cnn"]) == 1
    assert "97.00%" in hub.files("user/asl-cnn")["README.md"].decode()

    (tmp_path / "cnn" / "all_results.json").write_text(json.dumps({**results, "test_accuracy": 0.5}))
    pr_url = push_model_folder(tmp_path / "cnn", "user/asl-cnn", create_pr=True)
    assert pr_url.endswith("/user/asl-cnn/discussions/1")
    assert "50.00%" in hub.files("user/asl-cnn", revision="refs/pr/1")["README.md"].decode()
    assert "97.00%" in hub.files("user/asl-cnn")["README.md"].decode()  # main untouched
    assert push_model_folder(tmp_path / "cnn", "user/asl-cnn", revision="experiments").endswith("/user/asl-cnn/tree/experiments")
    assert "50.00%" in hub.files("user/asl-cnn", revision="experiments")["README.md"].decode()


def test_dry_run_writes_exactly_what_would_be_uploaded(hub, tmp_path):
    make_cnn_folder(tmp_path / "cnn")
    staged = Path(push_model_folder(tmp_path / "cnn", "user/asl-cnn", dry_run=True, staging_dir=tmp_path / "staged"))
    assert not hub.repo_exists("user/asl-cnn") and not [r for r in hub.requests if r[0] != "GET"]
    push_model_folder(tmp_path / "cnn", "user/asl-cnn")
    uploaded = {p: hashlib.sha256(d).hexdigest() for p, d in hub.files("user/asl-cnn").items() if p != ".gitattributes"}
    assert uploaded == folder_digest(staged)
    with pytest.raises(OutputExistsError, match="not empty"):
        push_model_folder(tmp_path / "cnn", "user/asl-cnn", dry_run=True, staging_dir=staged)


# --- data set and Space -------------------------------------------------------------------------------------


def test_push_dataset_then_load_dataset_keeps_card_and_configs(hub, tmp_path):
    from datasets import load_dataset

    from asl_hf.data import load_prepared_dataset, prepare_dataset
    from asl_hf.data.synthetic import generate_synthetic_asl

    raw = generate_synthetic_asl(tmp_path / "raw", images_per_class=5, image_size=32)
    prepare_dataset(tmp_path / "prepared", train_dir=str(raw), num_proc=1)
    local = load_prepared_dataset(tmp_path / "prepared")
    url = push_dataset_folder(tmp_path / "prepared", "user/asl-alphabet")
    assert url == f"{hub.url}/datasets/user/asl-alphabet"

    readme = hub.files("user/asl-alphabet", repo_type="dataset")["README.md"].decode()
    local_text = (tmp_path / "prepared" / "README.md").read_text()
    assert "## Limitations" in readme and "configs:" in readme and "dataset_info:" in readme
    assert local_text.split("---", 2)[2].strip().replace("<this repo id>", "user/asl-alphabet") in readme  # our card body
    assert 'load_dataset("user/asl-alphabet")' in readme
    assert "task_categories:" in readme  # our metadata kept alongside the generated one
    assert [c.title for c in hub.commits("user/asl-alphabet", repo_type="dataset")][:2] == [
        "Dataset card: sources, classes, splits, limitations", "Upload the prepared ASL Alphabet splits (Parquet)"]

    loaded = load_dataset("user/asl-alphabet", cache_dir=str(tmp_path / "cache"))
    assert set(loaded) == set(local) == {"train", "validation", "test"}
    for split in local:
        assert loaded[split].num_rows == local[split].num_rows
        assert loaded[split]["label"] == local[split]["label"]
    assert loaded["train"].features["label"].names == CLASS_NAMES


def test_push_in_memory_dataset_with_a_card_object(hub, tmp_path):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Image as ImageFeature, load_dataset
    from huggingface_hub import DatasetCard

    features = Features({"image": ImageFeature(), "label": ClassLabel(names=CLASS_NAMES)})
    sizes = {"train": 6, "validation": 3, "test": 2}
    splits = DatasetDict({
        split: Dataset.from_dict({"image": [Image.new("RGB", (8, 8), (10 * i, 5, 200)) for i in range(n)],
                                  "label": [(i * 7) % len(CLASS_NAMES) for i in range(n)]}, features=features)
        for split, n in sizes.items()
    })
    card = DatasetCard("---\nlicense: gpl-2.0\ntask_categories:\n- image-classification\n---\n# ASL Alphabet\n\nTiny test card.\n")
    url = push_dataset(splits, "user/asl-alphabet", card=card, private=True)
    assert url == f"{hub.url}/datasets/user/asl-alphabet" and hub.repo("user/asl-alphabet", "dataset").private
    readme = hub.files("user/asl-alphabet", repo_type="dataset")["README.md"].decode()
    assert "Tiny test card." in readme and "license: gpl-2.0" in readme and "configs:" in readme
    assert any(call["repoType"] == "dataset" and not call["errors"] for call in hub.validate_yaml_calls)

    loaded = load_dataset("user/asl-alphabet", cache_dir=str(tmp_path / "cache"))
    assert {split: loaded[split].num_rows for split in loaded} == sizes
    assert loaded["test"].features["label"].names == CLASS_NAMES and loaded["train"]["label"] == splits["train"]["label"]
    assert loaded["validation"][2]["image"].getpixel((0, 0)) == (20, 5, 200)


def test_push_space_uploads_the_app_without_caches(hub, tmp_path):
    space = tmp_path / "space"
    (space / "__pycache__").mkdir(parents=True)
    (space / "app.py").write_text("import gradio as gr\n")
    (space / "requirements.txt").write_text("asl_hf\n")
    (space / "README.md").write_text("---\ntitle: ASL demo\nsdk: gradio\napp_file: app.py\n---\n# Demo\n")
    (space / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (space / "asl_hf").mkdir()
    (space / "asl_hf" / "__init__.py").write_text("# an old copy: the push replaces it with the package's\n")
    package_root = Path(asl_hf.__file__).parent
    package = sorted(f"asl_hf/{p.relative_to(package_root).as_posix()}" for p in package_root.rglob("*.py") if "__pycache__" not in p.parts)
    assert "asl_hf/inference/classifier.py" in package and "asl_hf/evaluation/metrics/asl_classification.py" in package
    expected = sorted(["README.md", "app.py", "requirements.txt", *package])
    assert push_space(space, "user/asl-demo", dry_run=True).splitlines() == expected
    url = push_space(space, "user/asl-demo")
    assert url == f"{hub.url}/spaces/user/asl-demo"
    assert hub.repo("user/asl-demo", "space").sdk == "gradio"
    files = hub.files("user/asl-demo", repo_type="space")
    assert set(files) == {".gitattributes", *expected}
    # The Space does not install asl_hf: app.py imports the package shipped beside it, the current one.
    assert files["asl_hf/__init__.py"] == (package_root / "__init__.py").read_bytes()
    assert (space / "asl_hf" / "__init__.py").read_text().startswith("# an old copy")  # the local folder is only read


def make_raw_folder(root: Path, classes, frames=(5, 25, 105, 45, 1005)) -> Path:
    """A raw ``<CLASS>/<CLASS><frame>.jpg`` folder of small generated images (never the real photos), each a colour
    of its own. Sorted by frame number the middle file is frame 45 (sorted as text it would be 25)."""
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for f, frame in enumerate(frames):
            Image.new("RGB", (16, 16), (10 * c, 40 * f, 90)).save(root / name / f"{name}{frame}.jpg")
    return root


def write_space_folder(space: Path) -> Path:
    space.mkdir(parents=True)
    (space / "app.py").write_text("import gradio as gr\n")
    (space / "README.md").write_text("---\ntitle: ASL demo\nsdk: gradio\napp_file: app.py\n---\n# Demo\n")
    return space


def test_push_space_copies_one_example_photo_per_class(hub, tmp_path):
    raw = make_raw_folder(tmp_path / "raw", [*SPACE_EXAMPLE_CLASSES, "C"])
    (raw / "A" / ".DS_Store").write_bytes(b"\0")
    (raw / "A" / "notes.txt").write_text("not a photo")
    space = write_space_folder(tmp_path / "space")
    (space / "examples").mkdir()
    Image.new("RGB", (8, 8)).save(space / "examples" / "old.png")  # replaced by the --examples_dir selection
    examples = {f"examples/{name}_{name}45.jpg": raw / name / f"{name}45.jpg" for name in SPACE_EXAMPLE_CLASSES}
    assert len(examples) == 8 and select_space_examples(raw) == examples
    package = [name for name in push_space(space, "user/asl-demo", dry_run=True).splitlines() if name.startswith("asl_hf/")]
    expected = sorted(["README.md", "app.py", *package, *examples])
    assert push_space(space, "user/asl-demo", dry_run=True, examples_dir=raw).splitlines() == expected
    assert push_space(space, "user/asl-demo", dry_run=True).splitlines() == sorted(["README.md", "app.py", "examples/old.png", *package])
    staged = tmp_path / "staged"
    assert push_space(space, "user/asl-demo", dry_run=True, examples_dir=raw, staging_dir=staged).splitlines() == expected
    assert sorted(folder_digest(staged)) == expected and not hub.repo_exists("user/asl-demo", "space")
    before = folder_digest(raw)

    push_space(space, "user/asl-demo", examples_dir=raw)
    files = hub.files("user/asl-demo", repo_type="space")
    assert set(files) == {".gitattributes", *expected}
    for name, source in examples.items():
        assert files[name] == source.read_bytes(), name
    assert folder_digest(raw) == before and (space / "examples" / "old.png").is_file()  # both folders only read

    # The public download's nesting (asl_alphabet_train/asl_alphabet_train/<CLASS>/) is accepted as is.
    nested = make_raw_folder(tmp_path / "asl_alphabet_train" / "asl_alphabet_train", SPACE_EXAMPLE_CLASSES)
    assert select_space_examples(tmp_path / "asl_alphabet_train") == {
        name: nested / source.relative_to(raw) for name, source in examples.items()}


def test_push_space_examples_errors_are_one_line(tmp_path):
    space = write_space_folder(tmp_path / "space")
    raw = make_raw_folder(tmp_path / "raw", [c for c in SPACE_EXAMPLE_CLASSES if c != "space"])
    with pytest.raises(HubError, match=r"^\S*raw: no class folder space/ \(--examples_dir needs A/, B/, .*space/\)$"):
        push_space(space, "user/asl-demo", dry_run=True, examples_dir=raw)
    (raw / "space").mkdir()
    (raw / "space" / "notes.txt").write_text("not a photo")
    with pytest.raises(HubError, match=r"space: no image files"):
        push_space(space, "user/asl-demo", examples_dir=raw)  # before any network call: no token needed
    with pytest.raises(HubError, match=r"missing: not a folder"):
        push_space(space, "user/asl-demo", dry_run=True, examples_dir=tmp_path / "missing")


def test_script_dry_run_lists_the_space_examples(tmp_path, capsys):
    script = load_script("push_to_hub")
    space = write_space_folder(tmp_path / "space")
    raw = make_raw_folder(tmp_path / "raw", SPACE_EXAMPLE_CLASSES, frames=(1, 2, 3))
    args = ["--space_dir", str(space), "--hub_space_id", "user/asl-demo", "--examples_dir", str(raw), "--dry_run"]
    assert run_cli(script.main, args) == 0
    out = capsys.readouterr().out
    assert f"from {space} (examples/ from {raw}):" in out
    assert [line.strip() for line in out.splitlines() if line.startswith("  examples/")] == sorted(
        f"examples/{name}_{name}2.jpg" for name in SPACE_EXAMPLE_CLASSES)
    with pytest.raises(SystemExit):
        script.parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())  # the help names the classes hub.py copies
    assert f"{', '.join(SPACE_EXAMPLE_CLASSES[:-1])} and {SPACE_EXAMPLE_CLASSES[-1]}" in help_text

    (raw / "W").rename(tmp_path / "W")
    assert run_cli(script.main, args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "no class folder W/" in err
    with pytest.raises(SystemExit) as exit_info:
        script.parse_args(["--model_dir", "m", "--hub_model_id", "u/m", "--examples_dir", str(raw)])
    assert exit_info.value.code == 2


# --- errors and the script ----------------------------------------------------------------------------------


def test_errors_are_one_clear_line_and_leave_the_folder_alone(hub, monkeypatch, tmp_path):
    import huggingface_hub.constants

    model_dir = tmp_path / "cnn"
    make_cnn_folder(model_dir)
    before = folder_digest(model_dir)

    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(HubError, match=r"no Hugging Face token found: run `hf auth login` or set HF_TOKEN"):
        push_model_folder(model_dir, "user/asl-cnn")
    with pytest.raises(HubError, match=r"rejected the token \(401 Unauthorized.*hf auth login"):
        push_model_folder(model_dir, "user/asl-cnn", token="hf_wrong_token")

    hub.fail_next(500, path_contains="/commit/")
    with pytest.raises(HubError, match=r"the Hub answered 500 \(server error"):
        push_model_folder(model_dir, "user/asl-cnn", token=hub.token)
    hub.fail_next(403, path_contains="/api/repos/create", message="no write access to this namespace")
    hub.fail_next(403, path_contains="/api/models/user/other")
    with pytest.raises(HubError, match=r"403 Forbidden"):
        push_model_folder(model_dir, "user/other", token=hub.token)

    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(HubError, match=r"could not reach the Hub at http://127.0.0.1:9"):
        push_model_folder(model_dir, "user/asl-cnn", token=hub.token)
    assert folder_digest(model_dir) == before


def test_script_prints_no_token_and_exits_2_on_errors(hub, capsys, tmp_path):
    script = load_script("push_to_hub")
    model_dir = tmp_path / "cnn"
    make_cnn_folder(model_dir)
    assert run_cli(script.main, ["--model_dir", str(model_dir), "--hub_model_id", "user/asl-cnn", "--dry_run",
                                 "--staging_dir", str(tmp_path / "staged")]) == 0
    out = capsys.readouterr().out
    assert "Dry run: nothing uploaded" in out and "  README.md" in out and "  model.safetensors" in out
    assert run_cli(script.main, ["--model_dir", str(model_dir), "--hub_model_id", "user/asl-cnn", "--token", hub.token]) == 0
    assert f"Pushed the model to {hub.url}/user/asl-cnn" in capsys.readouterr().out
    assert run_cli(script.main, ["--model_dir", str(model_dir), "--hub_model_id", "user/asl-cnn", "--token", "hf_bad_secret_123"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1 and "hf auth login" in captured.err
    everything = captured.out + captured.err + out
    assert hub.token not in everything and "hf_bad_secret_123" not in everything
    with pytest.raises(SystemExit) as exit_info:
        script.parse_args(["--model_dir", str(model_dir)])
    assert exit_info.value.code == 2
