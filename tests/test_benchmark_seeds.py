"""Headline numbers over seeds (``scripts/summarize_seeds.py``): figures read from model folders as training writes
them, grouped by kind, summarised as mean, sample standard deviation and range."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from asl_hf.benchmark.seeds import format_seed_table, seed_summary
from asl_hf.core.errors import AslError

REPO = Path(__file__).resolve().parents[1]


def summarize_seeds_script():
    spec = importlib.util.spec_from_file_location("summarize_seeds_script", REPO / "scripts" / "summarize_seeds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONFIGS = {"cnn": {"model_type": "asl_cnn"}, "landmarks": {"model_type": "asl_landmarks"},
           "mobilenetv2": {"architecture": "mobilenetv2_100"}}


def model_folder(root: Path, kind: str, seed: int, test: float, dev: float | None = None) -> Path:
    """A model folder with the files ``scripts/train.py`` and the main job leave (only the fields read here)."""
    folder = root / f"seed{seed}" / kind
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(CONFIGS[kind]))
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "training_args.json").write_text(json.dumps({"model": kind, "seed": seed}))
    results = {"test_accuracy": test, "test_macro_f1": test - 0.01, "test_expected_calibration_error": 0.05,
               "test_per_source": {"sample": {"accuracy": test + 0.02, "images": 10}}, "eval_accuracy": 0.5, "eval_macro_f1": 0.5}
    (folder / "all_results.json").write_text(json.dumps(results))
    if dev is not None:
        (folder / "eval_other_signers_dev").mkdir()
        (folder / "eval_other_signers_dev" / "evaluation_report.json").write_text(json.dumps(
            {"split_name": "other_signers_dev", "accuracy": dev, "macro_f1": dev, "expected_calibration_error": 0.1}))
    return folder


def test_figures_are_summarised_per_kind_as_mean_sample_sd_and_range(tmp_path):
    folders = [model_folder(tmp_path, "cnn", seed, test, dev) for seed, test, dev in ((42, 0.90, 0.10), (43, 0.92, 0.20), (44, 0.94, 0.30))]
    folders.append(model_folder(tmp_path, "landmarks", 42, 0.80))
    summary = seed_summary(folders)["summary"]
    assert summary["cnn"]["seeds"] == [42, 43, 44] and summary["landmarks"]["seeds"] == [42]
    cnn = summary["cnn"]["figures"]
    assert cnn["test"] == pytest.approx({"mean": 0.92, "sd": 0.02, "min": 0.90, "max": 0.94, "n": 3})
    assert cnn["test: sample"]["mean"] == pytest.approx(0.94)
    assert cnn["other_signers_dev"] == pytest.approx({"mean": 0.20, "sd": 0.10, "min": 0.10, "max": 0.30, "n": 3})
    assert summary["landmarks"]["figures"]["test"] == pytest.approx({"mean": 0.80, "sd": 0.0, "min": 0.80, "max": 0.80, "n": 1})
    assert "other_signers_dev" not in summary["landmarks"]["figures"]
    table = format_seed_table(seed_summary(folders))
    assert "| cnn | 92.00% ± 2.00 (90.00%-94.00%) |" in table
    assert "0.050 ± 0.000 (0.050-0.050)" in table  # calibration errors stay fractions


def test_two_folders_of_one_seed_and_a_folder_that_is_not_a_model_are_clear_errors(tmp_path, capsys):
    summarize_seeds = summarize_seeds_script()
    first = model_folder(tmp_path / "a", "cnn", 42, 0.9)
    second = model_folder(tmp_path / "b", "cnn", 42, 0.8)
    with pytest.raises(AslError, match=r"two cnn folders of the same seed \(\[42, 42\]\)"):
        seed_summary([first, second])
    assert summarize_seeds.run_cli(summarize_seeds.main, ["--model_dirs", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {tmp_path / 'config.json'}: missing (not a folder written by scripts/train.py, which saves and "
                                                  "evaluates the model)")


def test_the_script_prints_the_table_and_writes_the_json(tmp_path, capsys):
    summarize_seeds = summarize_seeds_script()
    folders = [str(model_folder(tmp_path, "mobilenetv2", seed, 0.97 + seed / 1000)) for seed in (42, 43)]
    assert summarize_seeds.main(["--model_dirs", *folders, "--output_json", str(tmp_path / "out" / "seeds.json")]) == 0
    printed = capsys.readouterr().out
    assert "**mobilenetv2**, seeds 42, 43" in printed and f"Wrote {tmp_path / 'out' / 'seeds.json'}" in printed
    written = json.loads((tmp_path / "out" / "seeds.json").read_text())
    assert [run["seed"] for run in written["runs"]] == [42, 43]
    assert written["summary"]["mobilenetv2"]["figures"]["test"]["mean"] == pytest.approx(0.0425 + 0.97)
