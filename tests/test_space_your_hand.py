"""The Space's *Your hand* tab: the guided capture of a calibration, its download / upload / forget, one calibration per
session, and the Classify and Spell tabs answering with it.

Where a hand must be found, the landmark model's ``find_hands`` is replaced by one that returns a fixed hand (the
capture only keeps what the detector returns, so the flow does not depend on what MediaPipe makes of an image); the
refused photo is a flat grey image, which has no hand for certain. The landmark model is the untrained one of
``tests/test_space.py``: a calibration's effect on its answer is arithmetic, not training.
"""

from __future__ import annotations

import base64
import urllib.request

import numpy as np
import pytest
from PIL import Image

from asl_hf.inference import Calibration
from asl_hf.inference.calibration import landmark_layout
from asl_hf.inference.handshapes import CAPTURE_LETTERS, HANDSHAPES
from asl_hf.models.asl_landmarks.image_processing_asl_landmarks import HandDetection
from tests.test_space import free_port, landmarks_slot, load_space_app  # noqa: F401 (landmarks_slot: a fixture)


def fixed_hand(seed: int = 0) -> HandDetection:
    """A hand as the detector reports one: 21 points in pixels of a 200x200 photo."""
    rng = np.random.default_rng(seed)
    points = np.concatenate([rng.uniform(40, 160, (21, 2)), rng.uniform(-10, 10, (21, 1))], axis=1).astype(np.float32)
    return HandDetection(points=points, handedness="Right", score=0.95, image_size=(200, 200))


@pytest.fixture
def hand_found(landmarks_slot, monkeypatch):  # noqa: F811
    """The landmark model finds :func:`fixed_hand` in every photo (its own detector is not asked)."""
    hand = fixed_hand()
    monkeypatch.setattr(landmarks_slot.classifier, "find_hands", lambda images: [hand for _ in images])
    return hand


def photo(colour=(200, 150, 120)) -> Image.Image:
    return Image.new("RGB", (200, 200), colour)


def grey() -> Image.Image:
    """A flat grey photo: nothing MediaPipe could take for a hand."""
    return photo((128, 128, 128))


def calibration_of(slot, letters: dict[str, int]) -> Calibration:
    """A calibration made directly from fixed hands: ``{letter: seed}``, one example each."""
    processor = slot.classifier.processor
    landmarks = np.stack([processor.normalise(fixed_hand(seed)) for seed in letters.values()])
    return Calibration(landmarks, list(letters), layout=landmark_layout(slot.classifier))


def assert_only_landmarks(calibration: Calibration, count: int) -> None:
    """The session's state holds normalised landmarks and letters: no image, no pixel array."""
    assert calibration.landmarks.shape == (count, 21, 3) and calibration.landmarks.dtype == np.float32
    assert len(calibration.labels) == count
    for name, value in vars(calibration).items():
        assert not isinstance(value, Image.Image), name
        assert not isinstance(value, np.ndarray) or name == "landmarks", name


# --- The capture --------------------------------------------------------------------------------------------------
def test_the_handshapes_cover_the_letters_in_order():
    assert CAPTURE_LETTERS == tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ") and set(HANDSHAPES) == set(CAPTURE_LETTERS)
    assert all(description and "\n" not in description for description in HANDSHAPES.values())


def test_a_photo_without_a_hand_is_not_counted(landmarks_slot, tmp_path):  # noqa: F811
    app = load_space_app()
    models = [landmarks_slot]
    prompt, note, calibration, position = app.take_photo(models, grey(), 3, 0, None)
    assert note == app.HAND_WORDS["no_hand"] and "No hand found in that photo — try again" in note
    assert calibration is None and position == 0
    assert prompt == f"### Letter 1 of 26: A — {HANDSHAPES['A']}\nPhotos of A: 0 of 3 · 0 letters done, 0 photos"
    grey().save(tmp_path / "grey.png")  # as the page sends it: an unprocessed upload
    assert app.take_photo(models, {"path": str(tmp_path / "grey.png")}, 3, 0, None)[1:] == (note, None, 0)
    assert app.take_photo(models, None, 3, 0, None)[1].startswith("⚠️ No image")


def test_the_capture_asks_letter_by_letter_with_skip_redo_and_back(landmarks_slot, hand_found):  # noqa: F811
    app = load_space_app()
    models, expected = [landmarks_slot], landmarks_slot.classifier.processor.normalise(hand_found)
    prompt, note, calibration, position = app.take_photo(models, photo(), 2, 0, None)
    assert note == "Photo 1 of 2 of **A** taken." and position == 0 and calibration.labels == ["A"]
    assert prompt.endswith("Photos of A: 1 of 2 · 1 letter done, 1 photo")
    first = calibration
    prompt, note, calibration, position = app.take_photo(models, photo(), 2, position, calibration)
    assert note == "✅ **A** done (2 photos)." and position == 1 and calibration is not first  # a new object each time
    assert prompt == f"### Letter 2 of 26: B — {HANDSHAPES['B']}\nPhotos of B: 0 of 2 · 1 letter done, 2 photos"
    assert_only_landmarks(calibration, 2)
    np.testing.assert_array_equal(calibration.landmarks[1], expected)
    assert calibration.layout == landmark_layout(landmarks_slot.classifier)

    prompt, note, calibration, position = app.skip_letter(models, 2, position, calibration)
    assert (note, position) == ("Skipped **B**.", 2) and prompt.startswith("### Letter 3 of 26: C — ")
    prompt, note, calibration, position = app.back_letter(models, 2, position, calibration)
    assert (note, position) == ("Back to **B**.", 1) and prompt.startswith("### Letter 2 of 26: B — ")
    prompt, note, calibration, position = app.take_photo(models, photo(), 2, position, calibration)
    assert calibration.labels == ["A", "A", "B"] and position == 1
    prompt, note, calibration, position = app.redo_letter(models, 2, position, calibration)
    assert note == "The photos of **B** are dropped: take them again." and position == 1
    assert calibration.labels == ["A", "A"] and prompt.endswith("Photos of B: 0 of 2 · 1 letter done, 2 photos")
    assert_only_landmarks(calibration, 2)
    prompt, note, calibration, position = app.back_letter(models, 2, position, calibration)
    assert app.redo_letter(models, 2, position, calibration)[2:] == (None, 0)  # nothing left: no calibration
    assert app.back_letter(models, 2, 0, None)[3] == 0  # Back at A stays at A


def test_the_capture_ends_after_z_and_a_changed_count_shows_at_once(landmarks_slot, hand_found):  # noqa: F811
    app = load_space_app()
    models = [landmarks_slot]
    prompt, note, calibration, position = app.take_photo(models, photo(), 1, 25, None)
    assert note == "✅ **Z** done (1 photo)." and position == 26
    assert prompt.startswith("### All 26 letters asked\n1 letter done, 1 photo.")
    assert app.take_photo(models, photo(), 1, 26, calibration)[1:] == (app.HAND_WORDS["all_asked_note"], calibration, 26)
    for handler in (app.skip_letter, app.redo_letter):  # nothing past Z: the calibration stays
        assert handler(models, 1, 26, calibration)[1:] == (app.HAND_WORDS["all_asked_note"], calibration, 26)
    assert app.back_letter(models, 1, 26, calibration)[3] == 25
    assert app.capture_prompt(models, 25, 5, calibration).endswith("Photos of Z: 1 of 5 · 1 letter done, 1 photo")


def test_forget_clears_the_calibration_and_starts_again_at_a(landmarks_slot, hand_found):  # noqa: F811
    app = load_space_app()
    calibration = app.take_photo([landmarks_slot], photo(), 3, 4, None)[2]
    prompt, note, calibration, position = app.forget_hand([landmarks_slot], 3)
    assert (calibration, position, note) == (None, 0, app.HAND_WORDS["forgotten"])
    assert prompt.startswith("### Letter 1 of 26: A — ")
    assert app.calibration_changed([landmarks_slot], None) == (app.calibration_status([landmarks_slot], None),) * 2 + ("",)
    assert app.calibration_status([landmarks_slot], None) == (
        "Hand landmarks: not calibrated (the *Your hand* tab adapts it to your hand).")


class FakeClock:
    """The server clock of the automatic capture, moved by hand (no wall time)."""

    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def auto_frames(app, models, frames_at: list[tuple[float, Image.Image]], per_letter: int = 2, position=0, calibration=None,
                auto=None) -> list[tuple]:
    """Stream ``(time, frame)`` pairs through ``auto_capture`` as the webcam stream does (each frame gets the state the
    previous one returned); every frame's outputs."""
    clock, outputs = FakeClock(), []
    app.clock = clock
    for now, frame in frames_at:
        clock.now = now
        result = app.auto_capture(models, frame, per_letter, position, calibration, auto)
        _, _, calibration, position, auto = result[:5]
        outputs.append(result)
    return outputs


def test_the_automatic_capture_waits_then_takes_spaced_frames_and_moves_on(landmarks_slot, hand_found):  # noqa: F811
    app = load_space_app()
    models, settle, every = [landmarks_slot], app.CAPTURE_SETTLE_S, app.CAPTURE_EVERY_S
    a_asked, late = 100.0, 0.01  # frames come a little after the due time (no float ties)
    b_asked = a_asked + settle + every + 2 * late  # A's second photo: A done, B asked
    times = [a_asked, a_asked + settle / 2, a_asked + settle - late,  # the first letter's settle time: ignored
             a_asked + settle + late, a_asked + settle + every / 2,  # A's first photo; a frame too soon after it: ignored
             b_asked, b_asked + every + late, b_asked + settle - late,  # B's settle time: ignored
             b_asked + settle + late, b_asked + settle + every + 2 * late]  # B's two photos: C asked
    outputs = auto_frames(app, models, [(now, photo()) for now in times])
    positions = [result[3] for result in outputs]
    counts = [len(result[2].labels) if result[2] is not None else 0 for result in outputs]
    assert positions == [0, 0, 0, 0, 0, 1, 1, 1, 1, 2] and counts == [0, 0, 0, 1, 1, 2, 2, 2, 3, 4]
    assert outputs[-1][2].labels == ["A", "A", "B", "B"] and isinstance(outputs[-1][4], app.AutoCapture)
    assert_only_landmarks(outputs[-1][2], 4)
    notes = [result[1] for result in outputs]
    assert notes[0] == notes[2] == "Now show **A** and hold it: photos start in a moment."
    assert notes[3] == notes[4] == "Photo 1 of 2 of **A** taken."
    assert notes[5] == notes[7] == "✅ **A** done (2 photos). Now show **B** and hold it: photos start in a moment."
    assert outputs[5][0] == f"### Letter 2 of 26: B — {HANDSHAPES['B']}\nPhotos of B: 0 of 2 · 1 letter done, 2 photos"
    status = app.calibration_status(models, outputs[3][2])
    assert outputs[3][5:] == (status, status, "")  # a photo taken: the other tabs' status lines, a stale download gone
    assert all(isinstance(value, type(app.gr.skip())) for value in outputs[4][5:])  # nothing taken: left as they are


def test_the_automatic_capture_does_not_count_frames_without_a_hand(landmarks_slot):  # noqa: F811
    app = load_space_app()
    models, settle, every = [landmarks_slot], app.CAPTURE_SETTLE_S, app.CAPTURE_EVERY_S
    outputs = auto_frames(app, models, [(100.0, grey()), (100.0 + settle + 0.01, grey()), (100.0 + settle + every, grey()),
                                        (100.0 + settle + 1.5 * every, grey())])
    assert [result[2:4] for result in outputs] == [(None, 0)] * 4
    assert [result[1] for result in outputs[1:]] == [app.HAND_WORDS["auto_no_hand"]] * 3  # one short note, no pile-up
    assert app.HAND_WORDS["auto_no_hand"] == "No hand found — hold your hand in view."
    hand = fixed_hand()  # a hand shows up in the very next frame: taken at once (a no-hand frame does not delay it)
    landmarks_slot.classifier.find_hands = lambda images: [hand for _ in images]
    try:
        auto = outputs[-1][4]
        result = auto_frames(app, models, [(100.0 + settle + 1.6 * every, photo())], auto=auto)[0]
    finally:
        del landmarks_slot.classifier.find_hands
    assert result[2].labels == ["A"] and result[1] == "Photo 1 of 2 of **A** taken."


def test_the_automatic_capture_follows_the_buttons_and_stops_after_z(landmarks_slot, hand_found):  # noqa: F811
    app = load_space_app()
    models, settle = [landmarks_slot], app.CAPTURE_SETTLE_S
    first = auto_frames(app, models, [(100.0, photo()), (100.0 + settle + 0.01, photo())])[-1]
    assert first[2].labels == ["A"]
    _, _, calibration, position = app.skip_letter(models, 2, first[3], first[2])  # Skip while the webcam streams
    result = auto_frames(app, models, [(100.0 + 2 * settle, photo())], position=position, calibration=calibration,
                         auto=first[4])[0]
    assert result[3] == 1 and result[2] is calibration and result[1].startswith("Now show **B**")  # B's settle time
    last = auto_frames(app, models, [(100.0, photo()), (100.0 + settle + 0.01, photo())], per_letter=1, position=25)
    assert last[-1][3] == 26 and last[-1][1] == "✅ **Z** done (1 photo)." and last[-1][2].labels == ["Z"]
    after = auto_frames(app, models, [(200.0, photo())], per_letter=1, position=26, calibration=last[-1][2], auto=last[-1][4])
    assert after[0][1:4] == (app.HAND_WORDS["all_asked_note"], last[-1][2], 26)
    no_model = [app.ModelSlot(name="Hand landmarks", source="nowhere", error="no such model folder")]
    assert auto_frames(app, no_model, [(100.0, grey())])[0][:4] == (app.HAND_WORDS["no_model"],) * 2 + (None, 0)


# --- The file -----------------------------------------------------------------------------------------------------
def test_the_download_round_trips_and_an_upload_is_checked(landmarks_slot):  # noqa: F811
    app = load_space_app()
    models, calibration = [landmarks_slot], calibration_of(landmarks_slot, {"A": 0, "B": 1})
    data, note = app.calibration_base64(calibration)
    assert note == f"Your calibration is downloading as `my-hand.safetensors` ({len(calibration.to_bytes()):,} bytes)."
    again = Calibration.from_bytes(base64.b64decode(data))
    assert again.labels == calibration.labels and again.layout == calibration.layout
    np.testing.assert_array_equal(again.landmarks, calibration.landmarks)
    assert app.calibration_base64(None) == ("", app.HAND_WORDS["nothing_to_download"])

    prompt, note, loaded, position = app.load_calibration(models, base64.b64decode(data), 3, 2, None)
    assert note == "Loaded a calibration of 2 photos: the hand-landmark model is calibrated to your hand (2 letters)."
    assert loaded.labels == ["A", "B"] and position == 2 and prompt.endswith("Photos of C: 0 of 3 · 2 letters done, 2 photos")
    assert app.calibration_status(models, loaded) == "✋ Hand landmarks: calibrated to your hand (2 letters)."

    unknown = Calibration(calibration.landmarks[:1], ["Ä"], layout=calibration.layout)
    other_layout = Calibration(calibration.landmarks[:1], ["A"], layout={**calibration.layout, "canonical_handedness": "Right"})
    refusals = {
        b"not a calibration": "⚠️ That file: not a calibration file (not a safetensors file)",
        unknown.to_bytes(): "⚠️ this calibration has classes the model does not know: Ä",
        other_layout.to_bytes(): "⚠️ this calibration was made for another landmark layout",
        None: app.HAND_WORDS["no_file"],
    }
    for data, message in refusals.items():
        prompt, note, kept, _ = app.load_calibration(models, data, 3, 0, loaded)
        assert note.startswith(message) and "\n" not in note and kept is loaded, (data, note)


# --- Without a landmark model -------------------------------------------------------------------------------------
def test_without_a_landmark_model_the_tab_says_so_and_changes_nothing(tmp_path):
    app = load_space_app()
    models = [app.ModelSlot(name="Hand landmarks", source="nowhere", error="nowhere: no such model folder")]
    no_model = app.HAND_WORDS["no_model"]
    assert "Calibration needs the hand-landmark model" in no_model
    assert app.capture_prompt(models, 0, 3, None) == no_model
    assert app.take_photo(models, grey(), 3, 0, None) == (no_model, no_model, None, 0)
    for handler in (app.skip_letter, app.redo_letter):
        assert handler(models, 3, 0, None) == (no_model, no_model, None, 0), handler.__name__
    assert app.back_letter(models, 3, 0, None) == (no_model, "", None, 0)
    assert app.load_calibration(models, b"anything", 3, 0, None)[1:] == (no_model, None, 0)
    assert app.forget_hand(models, 3)[2:] == (None, 0) and app.calibration_status(models, None) == ""
    demo = app.build_demo(models)
    assert no_model in str(demo.config)


# --- Classify and Spell with the session's calibration -------------------------------------------------------------
def test_classify_gives_the_packages_calibrated_answer(landmarks_slot, hand_found):  # noqa: F811
    app = load_space_app()
    calibration = calibration_of(landmarks_slot, {"B": 0, "C": 1})  # B's example is the very hand in the photo
    label, latency_ms, view, headline, message = app.predict_all([landmarks_slot], photo(), calibration)
    expected = landmarks_slot.classifier.predict_with_hands([photo()], top_k=5, calibration=calibration)[0]
    assert list(label) == [name for name, _ in expected.top] and expected.top[0][0] == "B"
    np.testing.assert_allclose(list(label.values()), [p for _, p in expected.top], atol=1e-6, rtol=0)
    assert headline == "## B" and latency_ms > 0 and view is not None
    assert message == "Classified a 200×200 image. Hand landmarks: calibrated to your hand (2 letters)."
    plain = app.predict_all([landmarks_slot], photo())
    assert plain[-1] == "Classified a 200×200 image." and plain[0].get("B", 0.0) < label["B"]


def test_the_spell_stream_follows_the_sessions_calibration(landmarks_slot, tmp_path):  # noqa: F811
    app = load_space_app()
    models, frame = [landmarks_slot], grey()
    first, second = calibration_of(landmarks_slot, {"A": 0}), calibration_of(landmarks_slot, {"A": 0, "B": 1})
    *_, machine, live = app.spell_frame(models, frame, "Hand landmarks", 0.8, 0.5, None, None, first)
    assert live.calibration is first and live.stream.calibration is first
    assert app.spell_frame(models, frame, "Hand landmarks", 0.8, 0.5, machine, live, first)[3] is live
    changed = app.spell_frame(models, frame, "Hand landmarks", 0.8, 0.5, machine, live, second)[3]
    assert changed is not live and changed.stream.calibration is second and live.stream.tracker._closed
    forgotten = app.spell_frame(models, frame, "Hand landmarks", 0.8, 0.5, machine, changed, None)[3]
    assert forgotten.calibration is None and forgotten.stream.calibration is None and changed.stream.tracker._closed
    app.release_stream(forgotten)
    assert app.spell_frame(models, frame, "Hand landmarks", 0.8, 0.5, machine, None, "not a calibration")[3].calibration is None

    from tests.spelling_helpers import write_video

    options = []
    def recording_stream(original=landmarks_slot.classifier.stream, **given):
        options.append(given)
        return original(**given)

    landmarks_slot.classifier.stream = recording_stream
    try:
        video = write_video(tmp_path / "grey.mp4", [frame.resize((64, 64))] * 3, fps=10)
        summary = app.spell_video(models, {"path": str(video), "orig_name": "grey.mp4"}, "Hand landmarks", 0.8, 0.5, second)[1]
    finally:
        del landmarks_slot.classifier.stream
    assert summary.startswith("Spelled 3 frames") and options == [{"calibration": second}]  # the video's stream, calibrated
    pixel = app.ModelSlot(name="Custom CNN", source="x", classifier=landmarks_slot.classifier)
    assert app.calibration_for(pixel, first) is first  # a slot whose classifier finds hands uses it ...
    pixel.classifier = type("Pixels", (), {"detects_hands": False})()
    assert app.calibration_for(pixel, first) is None  # ... a pixel model never gets one


# --- Sessions through the API ---------------------------------------------------------------------------------------
def test_each_client_session_has_its_own_calibration(landmarks_slot, tmp_path):  # noqa: F811
    """Two gradio_client sessions at once: the one that uploads a calibration is calibrated, the other is not; Forget
    ends it. The app runs in this process (a thread), with the landmark model alone."""
    from gradio_client import Client, handle_file

    app = load_space_app()
    calibration = calibration_of(landmarks_slot, {"A": 0, "B": 1, "L": 2})
    path = calibration.save(tmp_path / "my-hand.safetensors")
    demo = app.build_demo([landmarks_slot])
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(f"{url}/config", timeout=10).close()
        first, second = Client(url, verbose=False), Client(url, verbose=False)
        calibrated = "✋ Hand landmarks: calibrated to your hand (3 letters)."
        plain = app.calibration_status([landmarks_slot], None)
        prompt, note = first.predict(handle_file(str(path)), 3, api_name="/load_calibration")
        assert note.startswith("Loaded a calibration of 3 photos") and prompt.startswith("### Letter 1 of 26: A")
        assert first.predict(api_name="/calibration_status") == calibrated
        assert second.predict(api_name="/calibration_status") == plain
        data, _ = first.predict(api_name="/download_calibration")
        downloaded = Calibration.from_bytes(base64.b64decode(data))
        assert downloaded.labels == calibration.labels and np.array_equal(downloaded.landmarks, calibration.landmarks)
        assert second.predict(api_name="/download_calibration") == ("", app.HAND_WORDS["nothing_to_download"])
        prompt, note = second.predict(3, api_name="/skip_letter")
        assert prompt.startswith("### Letter 2 of 26: B") and first.predict(api_name="/calibration_status") == calibrated
        assert first.predict(3, api_name="/forget_hand")[1] == app.HAND_WORDS["forgotten"]
        assert first.predict(api_name="/calibration_status") == plain
    finally:
        demo.close()
