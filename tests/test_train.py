"""Training end to end through a real ``accelerate launch --cpu`` subprocess, for both models."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from asl_hf.core.constants import CLASS_NAMES
from asl_hf.data import generate_synthetic_asl, prepare_dataset

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-data")
    raw = generate_synthetic_asl(root / "raw", images_per_class=10, image_size=48)
    prepare_dataset(root / "prepared", train_dir=str(raw), seed=0)
    return root / "prepared"


def launch_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1", "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", str(REPO / "scripts" / "train.py"), *args]


def run_training(*args: str, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ACCELERATE_CONFIG_FILE": "/nonexistent", **(env or {})}
    result = subprocess.run(launch_command(*args), capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def check_output_folder(folder: Path) -> dict:
    for name in ("config.json", "model.safetensors", "training_args.json", "all_results.json", "eval_results.json",
                 "per_class_metrics.json", "confusion_matrix_validation.png", "confusion_matrix_test.png", "dataset_info.json"):
        assert (folder / name).is_file(), name
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))
    results = json.loads((folder / "all_results.json").read_text())
    for key in ("eval_accuracy", "eval_macro_f1", "test_accuracy", "test_macro_f1", "train_runtime", "train_samples_per_second", "num_parameters"):
        assert key in results, key
    per_class = json.loads((folder / "per_class_metrics.json").read_text())
    assert set(per_class) >= {"validation", "test"} and set(per_class["test"]) >= set(CLASS_NAMES)
    return results


def test_cnn_trains_and_learns(dataset_dir, tmp_path):
    out = tmp_path / "cnn"
    result = run_training("--model", "cnn", "--dataset_dir", str(dataset_dir), "--output_dir", str(out), "--num_train_epochs", "8",
                          "--per_device_train_batch_size", "16", "--dataloader_num_workers", "0", "--learning_rate", "3e-3", "--no_progress")
    assert "epoch 8/8" in result.stdout
    results = check_output_folder(out)
    assert results["best_epoch"] >= 1 and results["epoch"] == 8
    assert (out / "preprocessor_config.json").is_file() and (out / "modeling_asl_cnn.py").is_file()
    history = json.loads((out / "trainer_state.json").read_text())["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # it learns (no fixed threshold)
    assert max(h["eval_accuracy"] for h in history) > 1 / 29  # better than chance on held-out images

    from transformers import pipeline

    classify = pipeline("image-classification", model=str(out), trust_remote_code=True, device="cpu")
    from asl_hf.data import load_prepared_dataset

    test_split = load_prepared_dataset(dataset_dir)["test"]
    image = test_split[0]["image"]
    assert len(classify(image, top_k=29)) == 29

    # model.onnx is exported at the end and checked on every test image of the run; inference then runs it
    export = json.loads((out / "onnx_export.json").read_text())
    assert export["exported"] and export["top1_agreement"] == export["test_images"] == len(test_split)
    assert f"Exported model.onnx ({export['exporter']} exporter): same top-1 as PyTorch on all {len(test_split)} test" in result.stdout
    from asl_hf.inference import load_classifier

    assert load_classifier(out, device="cpu").runtime == "onnxruntime"


def test_mobilenetv2_two_phases(dataset_dir, tmp_path):
    out = tmp_path / "mnv2"
    result = run_training("--model", "mobilenetv2", "--no_pretrained", "--image_size", "64", "--dataset_dir", str(dataset_dir),
                          "--output_dir", str(out), "--num_train_epochs", "1", "--finetune_epochs", "1", "--unfreeze_blocks", "2",
                          "--per_device_train_batch_size", "32", "--dataloader_num_workers", "0", "--max_eval_samples", "29", "--no_progress")
    assert "[head]" in result.stdout and "[finetune]" in result.stdout
    check_output_folder(out)
    args = json.loads((out / "training_args.json").read_text())
    assert args["finetune_epochs"] == 1 and args["unfreeze_blocks"] == 2 and args["no_pretrained"] is True
    config = json.loads((out / "config.json").read_text())
    assert config["architecture"].startswith("mobilenetv2") and "num_classes" not in config.get("model_args", {})

    import timm
    from transformers import AutoModelForImageClassification

    timm_model = timm.create_model(f"local-dir:{out}", pretrained=True).eval()
    hf_model = AutoModelForImageClassification.from_pretrained(str(out)).eval()
    pixels = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(timm_model(pixels), hf_model(pixel_values=pixels).logits)
    assert hf_model.config.id2label[28] == "space"


def test_kill_and_resume_continues_where_it_stopped(dataset_dir, tmp_path):
    """A run killed (SIGKILL) after a checkpoint, resumed with --resume_from_checkpoint latest, ends with the
    same weights as an uninterrupted run (augmentation and dropout off so only the data order matters)."""
    common = ["--model", "cnn", "--dataset_dir", str(dataset_dir), "--num_train_epochs", "6", "--per_device_train_batch_size", "8",
              "--dataloader_num_workers", "0", "--dropout", "0", "--rotation", "0", "--shift", "0", "--shear", "0", "--zoom", "0",
              "--color_jitter", "0", "--checkpointing_steps", "10", "--no_progress"]
    reference = tmp_path / "reference"
    run_training(*common, "--output_dir", str(reference))

    interrupted = tmp_path / "interrupted"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ACCELERATE_CONFIG_FILE": "/nonexistent"}
    process = subprocess.Popen(launch_command(*common, "--output_dir", str(interrupted)), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first_checkpoint = interrupted / "checkpoints" / "step_10" / "trainer_state.json"
    deadline = time.monotonic() + 240
    while not first_checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert first_checkpoint.exists(), "the run never wrote its first checkpoint"
    assert not (interrupted / "all_results.json").exists(), "the run finished before it could be killed"

    resumed = run_training(*common, "--output_dir", str(interrupted), "--resume_from_checkpoint", "latest")
    assert "Resumed from" in resumed.stdout
    final_state = json.loads((interrupted / "trainer_state.json").read_text())
    reference_state = json.loads((reference / "trainer_state.json").read_text())
    assert final_state["global_step"] == reference_state["global_step"]
    assert [h["step"] for h in final_state["history"]] == [h["step"] for h in reference_state["history"]]
    ours, theirs = load_file(str(interrupted / "model.safetensors")), load_file(str(reference / "model.safetensors"))
    for name, tensor in theirs.items():
        torch.testing.assert_close(ours[name], tensor, atol=1e-5, rtol=1e-4, msg=name)


def test_refuses_to_overwrite_results(dataset_dir, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("precious")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "train.py"), "--dataset_dir", str(dataset_dir), "--output_dir",
                             str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "--overwrite_output_dir" in result.stderr
    assert (tmp_path / "out" / "keep.txt").read_text() == "precious"


def test_ddp_on_two_cpu_processes_gives_exact_metrics(dataset_dir, tmp_path):
    """Two processes (gloo): every validation/test image counted exactly once (gather_for_metrics drops padding)."""
    out = tmp_path / "ddp"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(REPO / "scripts" / "train.py"),
               "--model", "cnn", "--dataset_dir", str(dataset_dir), "--output_dir", str(out), "--num_train_epochs", "1",
               "--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "10", "--dataloader_num_workers", "0",
               "--max_eval_samples", "27", "--no_progress"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 process(es)" in result.stdout
    per_class = json.loads((out / "per_class_metrics.json").read_text())
    for split in ("validation", "test"):
        assert sum(row["support"] for row in per_class[split].values()) == 27, split


def test_mobilenetv2_phases_set_trainable_parameters_and_frozen_statistics():
    from asl_hf.training import TrainingPlan, parse_args
    from asl_hf.training.model_factory import build_model_bundle

    args = parse_args(["--model", "mobilenetv2", "--no_pretrained", "--image_size", "64", "--output_dir", "unused",
                       "--unfreeze_blocks", "2", "--num_train_epochs", "1", "--finetune_epochs", "1"])
    plan = TrainingPlan.from_args(args, [])
    bundle = build_model_bundle(plan.model, plan.schedule)
    model = bundle.model
    head, finetune = bundle.phases
    assert (head.name, finetune.name) == ("head", "finetune") and finetune.group_lrs["top"] == args.finetune_learning_rate

    bundle.enter_phase(head)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith(("conv_head", "bn2", "classifier")) for name in trainable)
    bundle.train_mode(model)
    stats = {name: b.clone() for name, b in model.named_buffers() if "running_mean" in name and not name.startswith("bn2")}
    torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 2, 3])).backward()
    assert all(torch.equal(stats[name], b) for name, b in model.named_buffers() if name in stats)
    assert all(p.grad is None for name, p in model.named_parameters() if name.startswith("blocks"))

    bundle.enter_phase(finetune)
    bundle.train_mode(model)
    stages = {".".join(name.split(".")[:2]) for name, p in model.named_parameters() if p.requires_grad and name.startswith("blocks")}
    assert stages == {f"blocks.{len(model.blocks) - 2}", f"blocks.{len(model.blocks) - 1}"}
    model(torch.randn(4, 3, 64, 64))
    top = tuple(f"blocks.{len(model.blocks) - i}." for i in (1, 2))
    for name, buffer in model.named_buffers():
        if name in stats:  # frozen stages keep their statistics; with random weights the unfrozen ones learn theirs
            assert torch.equal(stats[name], buffer) != name.startswith(top), name
