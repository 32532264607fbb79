"""The video tracker's fast path: MediaPipe's hand tracking steps with MediaPipe's models on LiteRT.

The geometry is checked against what MediaPipe's calculators compute on inputs worked out by hand; the whole graph
against MediaPipe's own video-mode graph on inputs whose answer is certain (uniform frames: no hand; a real photo with a
clear hand, where ``../shared`` is there: both find it, and put its points within a few pixels of each other).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from asl_hf.inference.litert_hands import (
    PALM_SIZE, Rect, best_palm, enlarge, landmarks_rect, palm_anchors, to_image,
)
from tests.markers import needs_litert
from tests.test_hand_tracking import CLEAR_HAND, flat, needs_clear_hand


def test_palm_anchors_are_the_detectors_two_grids():
    anchors = palm_anchors()
    assert anchors.shape == (2016, 2)
    np.testing.assert_allclose(anchors[:2], [[0.5 / 24, 0.5 / 24]] * 2)  # two per cell of the stride-8 grid
    np.testing.assert_allclose(anchors[1152:1158], [[0.5 / 12, 0.5 / 12]] * 6)  # six per cell of the stride-16 grid
    np.testing.assert_allclose(anchors[-1], [11.5 / 12, 11.5 / 12])


def palm_outputs(*palms):
    """Detector outputs with the given (anchor, logit, box width in px) palms, every other anchor far below zero."""
    regressors, scores = np.zeros((1, 2016, 18), np.float32), np.full((1, 2016, 1), -50.0, np.float32)
    for anchor, logit, width in palms:
        regressors[0, anchor, 2:4] = width
        scores[0, anchor, 0] = logit
    return regressors, scores


def test_the_best_palm_averages_its_overlapping_neighbours_by_score():
    # anchors 0 and 1 share a centre (IoU of 48 and 40 px boxes: 0.69); anchor 1500 is far away and scores between them
    regressors, scores = palm_outputs((0, 2.0, 48), (1, 0.0, 40), (1500, 1.0, 48))
    box, keypoints = best_palm(regressors, scores, min_score=0.1)
    weights = np.array([1 / (1 + math.exp(-2.0)), 0.5])
    half = (weights @ [48, 40]) / weights.sum() / PALM_SIZE / 2
    centre = 0.5 / 24
    np.testing.assert_allclose(box, [centre - half, centre - half, centre + half, centre + half], atol=1e-6)
    np.testing.assert_allclose(keypoints, [[centre, centre]] * 7, atol=1e-6)
    assert best_palm(regressors, scores, min_score=0.9) is None  # the best is 0.88


def test_enlarge_shifts_along_the_boxs_own_axis_squares_and_scales():
    # an upright 40x40 px box in a 200x100 frame, moved half its height towards the fingers (up), doubled
    upright = enlarge(Rect(0.5, 0.5, 0.2, 0.4), (200, 100), scale=2.0, shift_y=-0.5)
    np.testing.assert_allclose([upright.x, upright.y, upright.width, upright.height], [0.5, 0.3, 0.4, 0.8])
    # turned a quarter clockwise, "up" points right: the shift moves it right by 20 px
    turned = enlarge(Rect(0.5, 0.5, 0.2, 0.4, math.pi / 2), (200, 100), scale=2.0, shift_y=-0.5)
    np.testing.assert_allclose([turned.x, turned.y, turned.width, turned.height], [0.6, 0.5, 0.4, 0.8], atol=1e-12)


def upright_hand() -> np.ndarray:
    """21 points of a hand pointing up in a 100x100 frame: the wrist at the bottom, fingers in columns above it."""
    points = np.zeros((21, 2))
    points[0] = (0.5, 0.8)
    for finger, x in enumerate((0.3, 0.4, 0.5, 0.6, 0.7)):
        for joint in range(4):
            points[1 + 4 * finger + joint] = (x, 0.6 - 0.1 * joint)
    return points


def test_the_next_box_is_upright_for_an_upright_hand_and_turns_with_it():
    rect = landmarks_rect(upright_hand(), (100, 100))
    assert abs(rect.rotation) < 1e-9
    # the joints it is built around span x 0.3..0.7 and y 0.4 (the thumb's third joint) .. 0.8 (the wrist)
    np.testing.assert_allclose([rect.x, rect.y, rect.width, rect.height], [0.5, 0.6, 0.4, 0.4], atol=1e-9)
    turned = upright_hand() - 0.5
    turned = np.stack([-turned[:, 1], turned[:, 0]], 1) + 0.5  # a quarter turn clockwise: fingers point right
    rect = landmarks_rect(turned, (100, 100))
    np.testing.assert_allclose([rect.rotation, rect.x, rect.y, rect.width, rect.height], [math.pi / 2, 0.4, 0.5, 0.4, 0.4], atol=1e-9)


def test_points_of_the_cut_out_go_back_to_the_frame_through_the_turned_box():
    rect = Rect(0.4, 0.6, 0.2, 0.2, math.pi / 2)
    square = np.array([[0.5, 0.5, 0.1], [0.5, 0.0, 0.0], [1.0, 0.5, 0.0]])  # centre; top middle; right middle
    image = to_image(square, rect, (0.0, 0.0))
    # a quarter turn clockwise: the square's top is the box's right side, its right side the box's bottom
    np.testing.assert_allclose(image, [[0.4, 0.6, 0.02], [0.5, 0.6, 0.0], [0.4, 0.7, 0.0]], atol=1e-12)
    # a widened (letterboxed) square: its padding is taken off first
    np.testing.assert_allclose(to_image(np.array([[0.25, 0.5, 0.0]]), Rect(0.5, 0.5, 1.0, 1.0), (0.25, 0.0)), [[0.0, 0.5, 0.0]])


@needs_litert
def test_uniform_frames_have_no_hand_and_each_costs_a_palm_search():
    from asl_hf.inference.litert_hands import LiteRTHandsGraph

    graph = LiteRTHandsGraph(1, 0.1, 0.5, threads=1)
    searches = []
    real = graph.find_palm
    graph.find_palm = lambda frame: searches.append(frame.shape) or real(frame)
    results = [graph.process(np.asarray(flat(value))) for value in (0, 128, 255)]
    assert [r.multi_hand_landmarks for r in results] == [None] * 3 and len(searches) == 3
    graph.close()


@needs_litert
@needs_clear_hand
def test_a_clear_hand_is_found_once_then_tracked_where_mediapipe_puts_it():
    from asl_hf.inference.litert_hands import LiteRTHandsGraph
    from asl_hf.models.asl_landmarks.image_processing_asl_landmarks import new_hands_graph, run_hands_graph

    rgb = np.asarray(Image.open(CLEAR_HAND).convert("RGB"))
    ours, theirs = LiteRTHandsGraph(1, 0.1, 0.5, threads=1), new_hands_graph(False, 1, 0.1, 0.5, 1)
    searches = []
    real = ours.find_palm
    ours.find_palm = lambda frame: searches.append(1) or real(frame)
    try:
        for _ in range(3):
            a, b = ours.process(rgb), run_hands_graph(theirs, rgb)
            assert a.multi_hand_landmarks and b.multi_hand_landmarks
            points = [np.array([[p.x, p.y] for p in r.multi_hand_landmarks[0].landmark]) * rgb.shape[1] for r in (a, b)]
            assert np.linalg.norm(points[0] - points[1], axis=1).mean() < 3.0  # pixels of a 200 px photo
            assert a.multi_handedness[0].classification[0].label == b.multi_handedness[0].classification[0].label
    finally:
        ours.close()
        theirs.close()
    assert len(searches) == 1  # palm detection on the first frame only


def test_a_tracker_backend_must_be_one_it_knows():
    from asl_hf.inference.hands import HandTracker
    from asl_hf.models.asl_landmarks import AslLandmarksImageProcessor

    with pytest.raises(ValueError, match="backend must be one of .'litert', 'mediapipe'."):
        HandTracker(AslLandmarksImageProcessor(), backend="opencv")


@pytest.mark.parametrize("roi", [(20.0, 25.0, 16.0, 16.0, 0.3), (2.0, 38.0, 30.0, 20.0, -2.0), (60.0, -10.0, 12.0, 12.0, 1.0)])
def test_cutting_out_only_the_pixels_under_the_box_equals_warping_the_whole_frame(roi):
    """Inside the frame and across its edge (replicated border): the same pixels; wholly outside it, still a square."""
    cv2 = pytest.importorskip("cv2")
    from asl_hf.inference.litert_hands import cut_out

    rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    square, padding = cut_out(rgb, roi, 24, "replicate")
    cx, cy, width, height, rotation = roi
    side = max(width, height)
    corners = cv2.boxPoints(((cx, cy), (side, side), math.degrees(rotation))).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(corners, np.array([[0, 24], [0, 0], [24, 0], [24, 24]], np.float32))
    whole = cv2.warpPerspective(rgb.astype(np.float32) / 255, matrix, (24, 24), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert square.shape == (1, 24, 24, 3)
    expected_padding = (0.0, (1 - height / width) / 2) if height < width else (0.0, 0.0)
    np.testing.assert_allclose(padding, expected_padding)
    if roi[0] < 50:  # a box partly in the frame: the same pixels
        np.testing.assert_allclose(square[0], whole, atol=1e-5)
