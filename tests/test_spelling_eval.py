"""Words typed correctly (asl_hf.spelling_eval, scripts/spell_words.py) and the spelling-frame latency of the
benchmark, on a small prepared data set of flat grey photos read back by a stand-in classifier."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import datasets
import pytest

from asl_hf.core.cli import run_cli
from asl_hf.core.constants import CLASS_NAMES
from asl_hf.data.loading import FEATURES
from asl_hf.core.errors import AslError, DataError
from asl_hf.spelling import SpellingSettings
from asl_hf.spelling.words import _pick_photos, parse_words, spell_words, word_signs
from tests.spelling_helpers import GreyLevelClassifier, grey

REPO = Path(__file__).resolve().parents[1]
PHOTOS_PER_SIGN = 5
SIGNS = ["H", "E", "L", "O", "A", "S", "nothing", "space", "Y", "U"]


def photo_split(signs=SIGNS, looks_like: dict[str, str] | None = None) -> datasets.Dataset:
    """``PHOTOS_PER_SIGN`` distinct photos per sign (grey levels a little apart); ``looks_like`` mislabels a sign's
    photos as another sign's (a model that confuses them)."""
    looks_like = looks_like or {}
    images, labels = [], []
    for sign in signs:
        level = 8 * CLASS_NAMES.index(looks_like.get(sign, sign)) + 4
        for offset in range(-2, 3):
            images.append(grey(level + offset, size=16))
            labels.append(CLASS_NAMES.index(sign))
    return datasets.Dataset.from_dict({"image": images, "label": labels}, features=FEATURES)


def test_parse_words():
    assert parse_words("hello, asl ,Thank  you") == ["HELLO", "ASL", "THANK YOU"]
    assert parse_words(["Book"]) == ["BOOK"]
    for bad, message in [("HE1LO", "'1'"), ("", "give comma-separated words"), ("A,,B", "give comma-separated"), ("ÇA", "'Ç'")]:
        with pytest.raises(AslError, match=message):
            parse_words(bad)


def test_word_signs_put_nothing_between_letters_and_a_release_between_doubles():
    assert word_signs("ALL", 2, 1, 3) == ["A", "A", "nothing", "L", "L", "nothing", "nothing", "nothing", "L", "L", "nothing"]
    assert word_signs("A B", 1, 0, 3) == ["A", "space", "B"]
    assert word_signs("OO", 1, 0, 2) == ["O", "nothing", "nothing", "O"]


def test_each_frame_of_a_run_is_a_different_photo_while_there_are_enough():
    import numpy as np

    photos = {"A": list(range(10)), "B": [10, 11]}
    picked = _pick_photos(np.random.default_rng(0), ["A"] * 10 + ["B"] * 5, photos, "split")
    assert sorted(picked[:10]) == list(range(10))
    assert set(picked[10:]) <= {10, 11}
    with pytest.raises(DataError, match="split: no photos of 'Z'"):
        _pick_photos(np.random.default_rng(0), ["Z"], photos, "split")


def test_a_perfect_classifier_types_every_word():
    report = spell_words(GreyLevelClassifier(), photo_split(), ["HELLO", "SAY YES", "ALL"], show_progress=False)
    assert [(r.word, r.typed, r.correct) for r in report.words] == [("HELLO", "HELLO", True), ("SAY YES", "SAY YES", True), ("ALL", "ALL", True)]
    assert report.words_correct == 3 and report.frame_accuracy == 1.0
    assert report.words[0].num_frames == 5 * 10 + 4 * 5 + 5
    table = report.format_table()
    assert "| HELLO | \"HELLO\" | yes | 1.0000 |" in table and "3 of 3 words typed correctly" in table
    assert f"per-frame accuracy: 1.0000 ({report.num_frames} frames)" in table


def test_double_letters_get_a_release_even_without_nothing_frames():
    report = spell_words(GreyLevelClassifier(), photo_split(), ["HELLO"], nothing_frames=0, show_progress=False)
    assert report.words[0].typed == "HELLO"


def test_a_confused_letter_costs_the_word_and_frame_accuracy():
    report = spell_words(GreyLevelClassifier(), photo_split(looks_like={"O": "U"}), ["HELLO", "YES"], show_progress=False)
    assert [(r.typed, r.correct) for r in report.words] == [("HELLU", False), ("YES", True)]
    assert report.summary() == "1 of 2 words typed correctly"
    assert report.words[0].frame_accuracy == pytest.approx(1 - 10 / 75, abs=1e-4)


def test_settings_are_used_and_reported():
    strict = SpellingSettings(threshold=0.95)  # the stand-in is 0.9 sure: nothing is typed
    report = spell_words(GreyLevelClassifier(), photo_split(), ["HE"], settings=strict, show_progress=False)
    assert report.words[0].typed == "" and report.frame_accuracy == 1.0
    assert report.to_json()["settings"]["threshold"] == 0.95


def test_missing_sign_and_unknown_label_are_clear_errors():
    with pytest.raises(DataError, match="no photos of 'Z'"):
        spell_words(GreyLevelClassifier(), photo_split(), ["ZOO"], source="data[test]", show_progress=False)
    classifier = GreyLevelClassifier()
    classifier.labels = [label for label in CLASS_NAMES if label != "Q"]
    with pytest.raises(AslError, match=r"the model has no class for \['Q'\]"):
        spell_words(classifier, photo_split(), ["QUA"], show_progress=False)


def test_script_prints_the_table_and_writes_json(tmp_path, monkeypatch, capsys):
    import asl_hf.inference

    datasets.DatasetDict({"train": photo_split(), "test": photo_split(looks_like={"O": "U"})}).save_to_disk(str(tmp_path / "data"))
    monkeypatch.setattr(asl_hf.inference, "load_classifier", lambda *args, **kwargs: GreyLevelClassifier())
    spec = importlib.util.spec_from_file_location("spell_words_script", REPO / "scripts" / "spell_words.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    output = tmp_path / "words.json"
    argv = ["--model", "stand-in", "--dataset_dir", str(tmp_path / "data"), "--words", "hello,yes", "--no_progress",
            "--output_json", str(output)]
    assert run_cli(script.main, argv) == 0
    out = capsys.readouterr().out
    assert "| HELLO | \"HELLU\" | no |" in out and "1 of 2 words typed correctly" in out
    report = json.loads(output.read_text())
    assert report["words_correct"] == 1 and report["num_words"] == 2 and report["source"] == f"{tmp_path / 'data'}[test]"
    assert report["runtime"] == "eager"
    assert run_cli(script.main, [*argv[:4], "--split", "train", "--words", "hello", "--no_progress"]) == 0
    assert "1 of 1 words typed correctly" in capsys.readouterr().out
    assert run_cli(script.main, [*argv[:4], "--split", "validation", "--no_progress"]) == 2
    assert "no split 'validation' (it has train, test)" in capsys.readouterr().err


# --- benchmark --------------------------------------------------------------------------------------------------
def test_benchmark_spelling_frame_latency_and_its_row():
    from asl_hf.benchmark.latency import spell_frame_latency
    from asl_hf.benchmark.report import format_markdown

    classifier = GreyLevelClassifier()
    timing = spell_frame_latency(classifier, lambda i: grey(4 + 8 * (i % 3)), runs=7, warmup=2)
    assert timing["runs"] == 7 and timing["p50_ms"] > 0 and classifier.batch_sizes == [1] * 9
    machine = {"cpu": "cpu", "cores": 2, "ram_gib": 1, "torch": "x", "torch_threads": 2, "device": "cpu"}
    model = {"name": "cnn", "trained": True, "num_parameters": 1, "saved_results": {}, "memory_mb": {"inference_peak_rss": 1.0},
             "inference": {"predict": timing, "spell_frame": timing, "paths": {}, "failed_paths": {}, "input_size": [3, 8, 8],
                           "preprocessing": {"lean_max_abs_difference": {}}}}
    text = format_markdown({"options": {"batch_size": 8}, "machine": machine, "models": [model]})
    assert f"| cnn | one spelling frame: `predict_proba` + `SpellingMachine.update` | {timing['p50_ms']:,.2f} |" in text
    del model["inference"]["spell_frame"]
    assert "one spelling frame" not in format_markdown({"options": {"batch_size": 8}, "machine": machine, "models": [model]})
