"""Leave-one-person-out with calibration (scripts/benchmark_people.py): people and sessions from file names, seeded
draws from one session, and the report's shape. Models are saved untrained folders (reused, not trained here) and
hands come from a stand-in detector keyed by colour, so nothing depends on what a detector or a training does."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from asl_hf.benchmark.people import candidate_rows, draw_examples, format_people_table, person_hands, scan_people
from asl_hf.core.cli import run_cli
from asl_hf.core.errors import AslError
from asl_hf.inference import load_classifier
from tests.markers import needs_mediapipe
from tests.test_calibration import COLOURS, colour_detector, landmarks_model  # noqa: F401 - fixtures
from tests.test_hub import load_script

pytestmark = needs_mediapipe


def people_folder(root, people=("hand1", "hand2"), sessions=("bot", "top", "left"), per_session=2):
    for person in people:
        for letter, colour in COLOURS.items():
            (root / letter).mkdir(parents=True, exist_ok=True)
            for session in sessions:
                for i in range(per_session):
                    Image.new("RGB", (64, 64), colour).save(root / letter / f"{person}_{letter.lower()}_{session}_seg_{i}_cropped.png")
    return root


def test_people_and_sessions_come_from_the_file_names(tmp_path):
    photos = scan_people(people_folder(tmp_path / "people"))
    assert {p.person for p in photos} == {"hand1", "hand2"} and {p.session for p in photos} == {"bot", "top", "left"}
    assert len(photos) == 2 * 3 * 3 * 2
    Image.new("RGB", (8, 8)).save(tmp_path / "people" / "A" / "oddname.png")
    with pytest.raises(AslError, match="oddname.png: the file name does not say its person and session"):
        scan_people(tmp_path / "people")
    one = people_folder(tmp_path / "one", people=("hand1",))
    with pytest.raises(AslError, match="at least two people"):
        scan_people(one)


def test_draws_take_k_photos_a_letter_from_one_session_and_repeat_with_the_seed(landmarks_model, tmp_path):
    classifier = load_classifier(landmarks_model)
    photos = [p for p in scan_people(people_folder(tmp_path / "people")) if p.person == "hand1"]
    hands = person_hands(classifier, photos)
    rows = draw_examples(hands, "top", 2, draw=0, seed=0)
    assert len(rows) == 3 * 2 and set(hands.sessions[rows]) == {"top"} and sorted(set(hands.labels[rows])) == ["A", "B", "C"]
    assert np.array_equal(rows, draw_examples(hands, "top", 2, draw=0, seed=0))
    assert len(draw_examples(hands, "top", 5, draw=0, seed=0)) == 3 * 2  # never more than the session has


def test_the_script_reports_every_person_and_k_with_reused_models(landmarks_model, tmp_path, capsys):
    people = people_folder(tmp_path / "people")
    output = tmp_path / "out"
    for person in ("hand1", "hand2"):  # already trained without each person: reused, nothing is trained here
        shutil.copytree(landmarks_model, output / f"without_{person}")
    code = run_cli(load_script("benchmark_people").main, [
        "--train_dir", str(tmp_path / "unused"), "--people_dir", str(people), "--output_dir", str(output),
        "--ks", "1", "3", "--draws", "2", "--no_progress"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads((output / "people.json").read_text())
    assert set(report["people"]) == {"hand1", "hand2"} and report["ks"] == [1, 3]
    for person in report["people"].values():
        assert set(person["accuracy"]) == {"0", "1", "3"} and all(0.0 <= v <= 1.0 for v in person["accuracy"].values())
        assert person["sessions"] == ["bot", "left", "top"] and person["test_photos_per_session"] == [12, 12, 12]
    assert format_people_table(report) in printed and "| **mean** |" in printed and "Reusing" in printed
    assert report["frame_cost"]["k"] == 3


def test_the_training_signers_candidates_are_a_seeded_handful_of_each_class():
    labels = np.array([0] * 10 + [1] * 2 + [2] * 7)
    rows = candidate_rows(labels, 4, seed=0)
    assert rows == sorted(rows) and rows == candidate_rows(labels, 4, seed=0)
    assert [int((labels[rows] == c).sum()) for c in (0, 1, 2)] == [4, 2, 4]
