"""The spelling state machine on hand-written prediction sequences: holds, repeats, flickers, space/del, timing."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from asl_hf.spelling import (
    HeldSign,
    SpellingMachine,
    SpellingSettings,
    hold_seconds_from_frames,
    spell,
)

FPS = 10
SURE = 0.95


def frames(*parts: tuple[str | None, int] | tuple[str | None, int, float], fps: float = FPS, start: float = 0.0):
    """``("L", 10), ("nothing", 3), ("X", 1, 0.2)`` -> ``(label, probability, time)`` triples at ``fps``."""
    out = []
    for part in parts:
        label, count, probability = (*part, SURE) if len(part) == 2 else part
        out += [(label, probability, start + (len(out) + i) / fps) for i in range(count)]
    return out


def typed_by(*parts, settings: SpellingSettings | None = None) -> str:
    return spell(frames(*parts), settings)


# --- holds -----------------------------------------------------------------------------------------------------
def test_a_letter_held_one_second_at_10_fps_is_typed_exactly_once_with_the_defaults():
    machine = SpellingMachine()
    typed = machine.feed(frames(("L", 10)))
    assert machine.text == "L"
    assert len(typed) == 1 and typed[0].label == "L"
    assert typed[0].start_time == 0.0 and typed[0].time == pytest.approx(0.8)  # the 9th frame
    assert typed[0].confidence == pytest.approx(SURE) and typed[0].text == "L"


@pytest.mark.parametrize("count", [10, 20, 50])
def test_holding_longer_never_types_again(count):
    assert typed_by(("L", count)) == "L"


@pytest.mark.parametrize("count, expected", [(1, ""), (5, ""), (8, ""), (9, "L")])
def test_a_short_hold_types_nothing(count, expected):
    assert typed_by(("L", count), ("nothing", 5)) == expected


def test_hold_frames_convert_to_seconds_so_the_nth_frame_types():
    assert hold_seconds_from_frames(10, 10) == pytest.approx(0.9)
    settings = SpellingSettings(hold_seconds=hold_seconds_from_frames(10, FPS))
    assert typed_by(("L", 9), settings=settings) == ""
    machine = SpellingMachine(settings)
    assert machine.feed(frames(("L", 10)))[0].time == pytest.approx(0.9)
    with pytest.raises(ValueError):
        hold_seconds_from_frames(0, 10)


def test_different_letters_follow_each_other_without_a_release():
    assert typed_by(("H", 10), ("I", 10)) == "HI"
    assert typed_by(("L", 10), ("O", 10), ("L", 10)) == "LOL"


def test_a_letter_shown_too_briefly_between_two_others_is_not_typed():
    assert typed_by(("A", 10), ("B", 5), ("C", 10)) == "AC"


# --- repeats and releases --------------------------------------------------------------------------------------
def test_the_same_letter_twice_needs_a_release():
    assert typed_by(("L", 10), ("L", 10)) == "L"
    assert typed_by(("L", 10), ("nothing", 3), ("L", 10)) == "LL"


@pytest.mark.parametrize("release", [("nothing", 3), (None, 3), ("L", 3, 0.2), ("X", 3, 0.1)],
                         ids=["nothing", "no hand", "low confidence", "another label unsure"])
def test_each_kind_of_release_allows_a_repeat(release):
    assert typed_by(("L", 10), release, ("L", 10)) == "LL"


@pytest.mark.parametrize("release", [("nothing", 2), (None, 1), ("L", 2, 0.2)])
def test_a_release_shorter_than_release_frames_is_a_flicker(release):
    assert typed_by(("L", 10), release, ("L", 10)) == "L"


def test_release_frames_setting():
    settings = SpellingSettings(release_frames=1)
    assert typed_by(("L", 10), ("nothing", 1), ("L", 10), settings=settings) == "LL"
    settings = SpellingSettings(release_frames=5)
    assert typed_by(("L", 10), ("nothing", 4), ("L", 10), settings=settings) == "L"
    assert typed_by(("L", 10), ("nothing", 5), ("L", 10), settings=settings) == "LL"


def test_a_repeat_after_a_release_needs_its_own_full_hold():
    assert typed_by(("L", 10), ("nothing", 3), ("L", 8)) == "L"
    assert typed_by(("L", 10), ("nothing", 3), ("L", 9)) == "LL"


def test_another_unheld_letter_in_between_is_not_a_release():
    """L, then 3 frames of X (breaks the hold, too short to type), then L again: still one L."""
    assert typed_by(("L", 10), ("X", 3), ("L", 10)) == "L"


# --- flickers --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flicker", [("X", 1), ("X", 2), ("nothing", 2), (None, 2), ("L", 2, 0.1)])
def test_a_flicker_inside_a_hold_neither_types_nor_breaks_it(flicker):
    machine = SpellingMachine()
    typed = machine.feed(frames(("L", 4), flicker, ("L", 6 - flicker[1])))  # 10 frames in all
    assert machine.text == "L" and [k.label for k in typed] == ["L"]
    assert typed[0].start_time == 0.0 and typed[0].time == pytest.approx(0.8)  # the hold was not delayed either


def test_a_flicker_at_the_start_of_a_hold_costs_at_most_its_own_frames():
    machine = SpellingMachine()
    typed = machine.feed(frames(("X", 1), ("L", 10)))
    assert machine.text == "L" and typed[0].start_time == pytest.approx(0.1) and typed[0].time == pytest.approx(0.9)


def test_a_sign_seen_on_a_minority_of_the_hold_frames_is_not_typed():
    """L, X, X, L, X, X...: each X pair is a tolerated flicker, but L is the top label on only a third of the frames."""
    assert typed_by(*[("L", 1), ("X", 2)] * 10) == ""
    assert typed_by(*[("L", 2), ("X", 1)] * 10) == "L"


def test_three_frames_of_another_label_break_the_hold():
    assert typed_by(("L", 5), ("X", 3), ("L", 5)) == ""
    assert typed_by(("L", 5), ("X", 3), ("L", 5), settings=SpellingSettings(flicker_frames=3)) == "L"


def test_flicker_frames_zero_breaks_a_hold_on_any_other_frame():
    assert typed_by(("L", 5), ("X", 1), ("L", 5), settings=SpellingSettings(flicker_frames=0)) == ""


# --- space, del, nothing ---------------------------------------------------------------------------------------
def test_space_types_a_space():
    assert typed_by(("H", 10), ("space", 10), ("I", 10)) == "H I"


def test_del_deletes_the_last_character():
    machine = SpellingMachine()
    machine.feed(frames(("A", 10), ("B", 10), ("del", 10)))
    assert machine.text == "A"
    assert [(k.label, k.text) for k in machine.keystrokes] == [("A", "A"), ("B", "AB"), ("del", "A")]


def test_del_twice_needs_a_release_and_deletes_spaces_too():
    assert typed_by(("A", 10), ("space", 10), ("B", 10), ("del", 20)) == "A "
    assert typed_by(("A", 10), ("space", 10), ("B", 10), ("del", 10), ("nothing", 3), ("del", 10)) == "A"


def test_del_on_empty_text_does_nothing_but_is_recorded():
    machine = SpellingMachine()
    typed = machine.feed(frames(("del", 10), ("nothing", 3), ("del", 10), ("A", 10)))
    assert machine.text == "A"
    assert [(k.label, k.text) for k in typed] == [("del", ""), ("del", ""), ("A", "A")]


def test_nothing_types_nothing():
    machine = SpellingMachine()
    assert machine.feed(frames(("nothing", 30), (None, 30))) == [] and machine.text == ""


def test_low_confidence_types_nothing():
    assert typed_by(("L", 30, 0.4)) == ""
    assert typed_by(("L", 30, 0.8), settings=SpellingSettings(threshold=0.9)) == ""
    assert typed_by(("L", 30, 0.5)) == "L"  # the threshold itself counts


def test_empty_input_types_nothing():
    assert spell([]) == ""
    machine = SpellingMachine()
    assert machine.feed([]) == [] and machine.text == "" and machine.held is None


def test_hi_all():
    parts = [("H", 8), ("I", 8), ("nothing", 4), ("space", 8), ("A", 8), ("L", 8), ("nothing", 4), ("L", 8), ("nothing", 5)]
    settings = SpellingSettings(hold_seconds=hold_seconds_from_frames(6, FPS))
    assert typed_by(*parts, settings=settings) == "HI ALL"


# --- time ------------------------------------------------------------------------------------------------------
def test_irregular_timestamps_measure_the_hold_in_seconds():
    times = [0.0, 0.05, 0.3, 0.35, 0.7, 0.79, 0.81, 1.2]
    machine = SpellingMachine()
    typed = machine.feed([("L", SURE, t) for t in times])
    assert [k.time for k in typed] == [0.81]


def test_a_gap_longer_than_max_gap_seconds_is_a_release():
    before = [("L", SURE, t / 10) for t in range(10)]  # typed at 0.8
    after = [("L", SURE, 3.0 + t / 10) for t in range(10)]
    machine = SpellingMachine()
    typed = machine.feed(before + after)
    assert machine.text == "LL"
    assert typed[1].start_time == 3.0 and typed[1].time == pytest.approx(3.8)  # a new hold, not one from 0.0
    assert spell(before + after, SpellingSettings(max_gap_seconds=None)) == "L"


def test_a_gap_does_not_complete_a_hold():
    assert spell([("L", SURE, 0.0), ("L", SURE, 5.0)]) == ""
    assert spell([("L", SURE, 0.0), ("L", SURE, 0.9)]) == "L"  # within max_gap_seconds: held


def test_time_must_not_go_back_and_must_be_finite():
    machine = SpellingMachine()
    machine.update("L", SURE, 1.0)
    machine.update("L", SURE, 1.0)  # equal is fine
    with pytest.raises(ValueError, match="must not decrease"):
        machine.update("L", SURE, 0.5)
    with pytest.raises(ValueError, match="finite"):
        machine.update("L", SURE, float("nan"))


def test_timestamps_may_start_anywhere():
    assert spell(frames(("H", 10), ("I", 10), start=1234.5)) == "HI"


# --- what a UI shows -------------------------------------------------------------------------------------------
def test_held_sign_and_progress():
    machine = SpellingMachine()
    machine.feed(frames(("L", 5)))
    assert machine.held == HeldSign("L", 0.5, False)  # 0.4 s of 0.8
    machine.feed(frames(("L", 5), start=0.5))
    assert machine.held == HeldSign("L", 1.0, True) and machine.text == "L"
    machine.feed(frames(("nothing", 3), start=1.0))
    assert machine.held is None


def test_reset_clears_the_text_and_keeps_the_settings():
    settings = SpellingSettings(hold_seconds=0.2)
    machine = SpellingMachine(settings)
    machine.feed(frames(("A", 5)))
    machine.reset()
    assert machine.text == "" and machine.keystrokes == [] and machine.held is None and machine.settings is settings
    machine.feed(frames(("A", 3), start=10.0))
    assert machine.text == "A"


def test_settings_can_change_between_frames():
    machine = SpellingMachine()
    machine.feed(frames(("A", 3)))
    machine.settings = dataclasses.replace(machine.settings, hold_seconds=0.2)
    machine.update("A", SURE, 0.3)
    assert machine.text == "A"


def test_confidence_is_the_mean_over_the_held_frames():
    machine = SpellingMachine()
    typed = machine.feed(frames(("L", 3, 0.6), ("L", 6, 0.9)))
    assert typed[0].confidence == pytest.approx((3 * 0.6 + 6 * 0.9) / 9)


@pytest.mark.parametrize("bad", [dict(hold_seconds=-1), dict(threshold=1.5), dict(release_frames=0), dict(flicker_frames=-1),
                                 dict(max_gap_seconds=0), dict(hold_seconds=float("nan")), dict(release_frames=2.5)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        SpellingSettings(**bad)


def test_defaults():
    assert dataclasses.asdict(SpellingSettings()) == {
        "hold_seconds": 0.8, "threshold": 0.5, "release_frames": 3, "flicker_frames": 2, "max_gap_seconds": 1.0,
    }


def test_the_module_needs_only_the_standard_library():
    """The machine is model-free: no torch, no package imports, so anything (a script, the Space, a test) can drive it."""
    tree = ast.parse((Path(__file__).resolve().parents[1] / "asl_hf" / "spelling" / "machine.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "math", "collections", "dataclasses"}, imported
