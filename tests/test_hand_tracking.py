"""Streams of frames: the hand tracked with MediaPipe's video mode, one tracker per stream, closed when done; and
MediaPipe's start-up chatter kept off stderr while real errors still reach it.

Inputs whose answer does not depend on the detector's judgement: flat frames (no hand) and, where ``../shared`` is
there, a real photo of the sample with a clear hand (every detection setting finds it). Predictions are compared with
what the model itself answers for the hand that was found, never with a fixed letter.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from asl_hf.core.constants import CLASS_NAMES
from asl_hf.inference import FrameStream, load_classifier
from tests.markers import needs_litert, needs_mediapipe

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "asl_alphabet_sample"
CLEAR_HAND = SAMPLE / "B" / "B1205.jpg"
"""A bright, whole, open hand (the letter B): found by every detection attempt, in photo and video mode."""
CHATTER = ("XNNPACK", "Feedback manager", "W0000", "absl::InitializeLog")

needs_clear_hand = pytest.mark.skipif(not CLEAR_HAND.is_file(), reason=f"{CLEAR_HAND} is absent (../shared is not there)")


def flat(value: int = 128, size: int = 160) -> Image.Image:
    """A uniform frame: nothing MediaPipe could take for a hand."""
    return Image.new("RGB", (size, size), (value, value, value))


@pytest.fixture(scope="module")
def landmarks_dir(tmp_path_factory) -> Path:
    from asl_hf.models.asl_landmarks import AslLandmarksConfig, AslLandmarksForImageClassification, AslLandmarksImageProcessor, save_landmarks_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "landmarks"
    save_landmarks_model(AslLandmarksForImageClassification(AslLandmarksConfig(hidden_sizes=[32])), AslLandmarksImageProcessor(), folder)
    return folder


@pytest.fixture(scope="module")
def classifier(landmarks_dir):
    return load_classifier(landmarks_dir, device="cpu")


@pytest.fixture(params=[pytest.param("litert", marks=needs_litert), "mediapipe"])
def backend(request) -> str:
    """Each tracker backend in turn: LiteRT (the default where installed) and MediaPipe's own graph (the fallback)."""
    return request.param


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300, cwd=REPO)


# --- Quiet start-up -----------------------------------------------------------------------------------------------
@needs_mediapipe
def test_detectors_and_trackers_start_without_mediapipe_chatter_on_stderr():
    """A new process: the photo path's graphs and a tracker's graph are created and run; stderr stays empty of what
    MediaPipe's C++ side prints at start-up (file descriptor 2, which Python's logging never sees)."""
    result = run_python("""
        import sys
        from PIL import Image
        from asl_hf.models.asl_landmarks import AslLandmarksImageProcessor
        from asl_hf.inference.hands import HandTracker
        frame = Image.new("RGB", (96, 96), (128, 128, 128))
        processor = AslLandmarksImageProcessor()
        assert processor.detect(frame) is None  # every attempt: both models, photo mode
        with HandTracker(processor) as tracker:
            assert tracker.track(frame) is None and tracker.track(frame) is None
        print("ours", file=sys.stderr)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "ours", result.stderr


@needs_mediapipe
def test_output_of_a_failing_start_still_reaches_stderr():
    """What is printed while a graph starts is dropped only when it is start-up chatter and nothing failed: another
    line passes at once, and when the block raises the chatter is written too (it may explain the error)."""
    result = run_python("""
        import os
        from asl_hf.models.asl_landmarks.image_processing_asl_landmarks import quiet_native_stderr
        with quiet_native_stderr():
            os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\nE0000 00:00:1.2 7 graph.cc:1] a real error\\n")
        os.write(2, b"-- between --\\n")
        try:
            with quiet_native_stderr():
                os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
                raise RuntimeError("the graph did not start")
        except RuntimeError as error:
            os.write(2, f"caught: {error}\\n".encode())
    """)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "E0000 00:00:1.2 7 graph.cc:1] a real error", "-- between --",
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", "caught: the graph did not start",
    ]


def test_a_model_mediapipe_does_not_have_is_a_clear_error_not_an_abort():
    from asl_hf.models.asl_landmarks.image_processing_asl_landmarks import new_hands_graph

    with pytest.raises(ValueError, match="model_complexity must be 0 .lite. or 1 .full., got 2"):
        new_hands_graph(False, 2, 0.1)


# --- Tracking -----------------------------------------------------------------------------------------------------
@needs_mediapipe
def test_a_stream_without_a_hand_says_so_frame_after_frame(classifier, backend):
    with classifier.stream(backend=backend) as stream:
        predictions = [stream.predict(flat(value)) for value in (40, 128, 220)]
        assert stream.tracker.started
    assert [(p.hand_found, p.top, p.detection) for p in predictions] == [(False, [("nothing", 1.0)], None)] * 3
    assert not stream.tracker.started  # closed with the with-block


@needs_mediapipe
@needs_clear_hand
def test_a_tracked_hand_is_classified_as_the_model_classifies_that_hand(classifier, backend):
    photo = Image.open(CLEAR_HAND)
    frames = [photo, photo, flat(), photo]
    with classifier.stream(backend=backend) as stream:
        predictions = stream.predict_with_hands(frames, top_k=3)
    assert [p.hand_found for p in predictions] == [True, True, False, True]
    for prediction in (predictions[0], predictions[1], predictions[3]):
        with torch.inference_mode():
            expected = classifier.logits_of(classifier.landmark_inputs([prediction.detection])).softmax(-1)[0]
        ids = expected.topk(3).indices.tolist()
        assert [label for label, _ in prediction.top] == [CLASS_NAMES[i] for i in ids]
        np.testing.assert_allclose([p for _, p in prediction.top], expected[ids].numpy(), atol=1e-6)
    # The photo path finds the same hand in the same photo: the two landmark sets are close (pixels of a 200 px photo).
    photo_path = classifier.predict_with_hands([photo])[0].detection
    assert np.abs(photo_path.points[:, :2] - predictions[0].detection.points[:, :2]).max() < 20


@needs_mediapipe
@needs_clear_hand
def test_classify_and_predict_proba_follow_the_stream(classifier):
    photo = Image.open(CLEAR_HAND)
    with classifier.stream() as stream:
        probabilities, hand_found = stream.classify([flat(), photo])
        assert hand_found.tolist() == [False, True]
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
        assert stream.predict_proba([photo]).shape == (1, len(CLASS_NAMES))


@needs_mediapipe
def test_every_stream_has_its_own_tracker_and_a_closed_one_refuses_frames(classifier):
    first, second = classifier.stream(), classifier.stream()
    first.predict(flat())
    second.predict(flat())
    assert first.tracker is not second.tracker and first.tracker._graph is not second.tracker._graph
    first.close()
    first.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        first.predict(flat())
    assert second.predict(flat()).hand_found is False  # the other stream goes on
    second.close()


@pytest.fixture
def graph_runs(monkeypatch):
    """Every run of a tracker's graph, as the view (framing and brightening) it was shown."""
    import asl_hf.inference.hands

    runs = []
    real = asl_hf.inference.hands.detect_in
    monkeypatch.setattr(asl_hf.inference.hands, "detect_in", lambda graph, rgb, view: runs.append(dict(view)) or real(graph, rgb, view))
    return runs


@needs_mediapipe
def test_frames_without_a_hand_cost_one_search_each_in_the_views_in_turn(classifier, graph_runs):
    from asl_hf.inference.hands import DEFAULT_SEARCH_VIEWS

    with classifier.stream() as stream:
        assert [stream.predict(flat(v)).hand_found for v in (60, 128, 200)] == [False] * 3
    plain, brightened = DEFAULT_SEARCH_VIEWS
    assert graph_runs == [plain, brightened, plain]
    graph_runs.clear()
    with classifier.stream(search_views=[{}]) as stream:
        stream.predict_with_hands([flat(60), flat(128)])
    assert graph_runs == [{}, {}]


@needs_mediapipe
def test_frames_segmented_onto_black_get_the_photo_paths_black_border(classifier, graph_runs):
    """The processor's first detection attempt is for photos whose border is black; a stream frames them the same way."""
    with classifier.stream() as stream:
        stream.predict_with_hands([flat(0), flat(0), flat(128)])
    border = {"padding": 0.5, "fill": "black"}
    assert graph_runs == [border, {**border, "gamma": 0.4}, {}]


@needs_mediapipe
@needs_clear_hand
def test_a_hand_lost_by_tracking_is_searched_again_in_the_same_frame(classifier, graph_runs, backend):
    photo = Image.open(CLEAR_HAND)
    with classifier.stream(backend=backend) as stream:
        found = [p.hand_found for p in stream.predict_with_hands([photo, flat(), flat()])]
    assert found == [True, False, False]
    # the hand (plain view); the flat frame tracked, then searched at once; the next frame in the next view
    assert graph_runs == [{}, {}, {}, {"gamma": 0.4}]


@needs_mediapipe
def test_a_stream_builds_its_graph_with_the_landmark_model_and_thresholds_asked_for(classifier, monkeypatch):
    import asl_hf.inference.hands

    built = []
    real = asl_hf.inference.hands.new_hands_graph
    monkeypatch.setattr(asl_hf.inference.hands, "new_hands_graph", lambda *args: built.append(args[:4]) or real(*args))
    with classifier.stream(backend="mediapipe") as stream:
        stream.predict(flat())
    with classifier.stream(model_complexity=0, min_detection_confidence=0.3, min_tracking_confidence=0.6, backend="mediapipe") as stream:
        stream.predict(flat())
    processor = classifier.processor
    photo_model = processor.detection_attempts[0].get("model_complexity", 1)
    assert built == [(False, photo_model, processor.min_detection_confidence, 0.5), (False, 0, 0.3, 0.6)]


@needs_litert
def test_a_stream_gets_the_litert_tracker_where_installed_with_the_same_settings(classifier, monkeypatch):
    import asl_hf.inference.litert_hands

    built = []
    real = asl_hf.inference.litert_hands.LiteRTHandsGraph
    monkeypatch.setattr(asl_hf.inference.litert_hands, "LiteRTHandsGraph", lambda *args: built.append(args) or real(*args))
    with classifier.stream(model_complexity=0, min_detection_confidence=0.3, min_tracking_confidence=0.6, threads=1) as stream:
        assert stream.tracker.backend == "litert"
        stream.predict(flat())
    assert built == [(0, 0.3, 0.6, 1)]


def test_a_pixel_model_stream_classifies_each_frame_as_a_photo(tmp_path):
    from asl_hf.models import AslCnnConfig, AslCnnForImageClassification, build_image_processor

    torch.manual_seed(0)
    model = AslCnnForImageClassification(AslCnnConfig(image_size=32, conv_channels=[8], hidden_size=8)).eval()
    model.save_pretrained(tmp_path)
    build_image_processor(model.config).save_pretrained(tmp_path)
    cnn = load_classifier(tmp_path, device="cpu")
    frames = [flat(30), flat(200), flat(90)]
    with cnn.stream() as stream:
        assert isinstance(stream, FrameStream) and stream.tracker is None
        np.testing.assert_array_equal(stream.predict_proba(frames), cnn.predict_proba(frames))
        assert stream.predict(frames[0], top_k=2) == cnn.predict_with_hands(frames[:1], top_k=2)[0]
