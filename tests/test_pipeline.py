"""The main job's plan (asl_hf.pipeline): which models it trains with which flags, and its comparison table.

The job itself (minutes of training) runs in the README's commands; here only what it decides, quickly."""

from __future__ import annotations

from pathlib import Path

from asl_hf.pipeline.main_job import JobSpec, format_comparison, models_to_train, training_arguments


def test_the_generated_drawings_train_the_pixel_models_only_with_small_data_settings(tmp_path):
    spec = JobSpec(output_dir=str(tmp_path))
    assert spec.synthetic and models_to_train(spec) == ["cnn", "mobilenetv2"]  # MediaPipe finds no hands in drawings
    cnn = training_arguments(spec, "cnn", tmp_path / "data", tmp_path / "cnn")
    assert cnn[:6] == ["--model", "cnn", "--output_dir", str(tmp_path / "cnn"), "--dataset_dir", str(tmp_path / "data")]
    assert cnn[cnn.index("--num_train_epochs") + 1] == "40"
    mobilenet = training_arguments(spec, "mobilenetv2", tmp_path / "data", tmp_path / "mobilenetv2")
    assert "--no_pretrained" in mobilenet and mobilenet[mobilenet.index("--unfreeze_blocks") + 1] == "7"


def test_real_folders_use_the_training_defaults_and_every_folder(tmp_path):
    spec = JobSpec(train_dirs=("a", "b"), output_dir=str(tmp_path), seed=7, split_by="group", overwrite_output_dir=True)
    assert not spec.synthetic and models_to_train(JobSpec(train_dirs=("a",), models=("cnn",))) == ["cnn"]
    args = training_arguments(spec, "mobilenetv2", Path("d"), Path("m"))
    assert "--no_pretrained" not in args and "--num_train_epochs" not in args  # train.py's defaults, tuned on real photos
    assert args[args.index("--seed") + 1] == "7" and "--overwrite_output_dir" in args


def test_comparison_table_has_a_column_per_source():
    rows = {
        "custom CNN": {"test_accuracy": 0.9, "test_macro_f1": 0.89, "eval_accuracy": 0.91, "test_expected_calibration_error": 0.05,
                       "test_per_source": {"asl_alphabet_sample": 0.92, "other_signers_train": 0.8}, "num_parameters": 1234,
                       "ms_per_image": 1.5, "train_runtime_s": 300.4},
        "hand landmarks": {"test_accuracy": 0.97, "test_macro_f1": 0.97, "eval_accuracy": 0.96, "test_expected_calibration_error": None,
                           "test_per_source": {"asl_alphabet_sample": 0.975}, "num_parameters": 90653, "ms_per_image": 20.0,
                           "train_runtime_s": 30.0},
    }
    lines = format_comparison(rows).splitlines()
    assert "| test: asl_alphabet_sample | test: other_signers_train | test ECE |" in lines[0]
    assert lines[2] == "| custom CNN | 0.9000 | 0.8900 | 0.9100 | 0.9200 | 0.8000 | 0.050 | 1,234 | 1.50 | 300 |"
    assert lines[3] == "| hand landmarks | 0.9700 | 0.9700 | 0.9600 | 0.9750 | - | - | 90,653 | 20.00 | 30 |"
