"""MediaPipe Hands' video mode with MediaPipe's own hand models run by LiteRT: the same steps, twice the speed.

MediaPipe 0.10.14 (the last release that bundles the hand models) runs them on the TensorFlow Lite of mid-2024. On a
2-core x86 CPU its graph takes 12.8 ms a tracked frame and 14 ms a palm search; the same ``.tflite`` files on LiteRT
(``ai-edge-litert``, TensorFlow Lite's current release, XNNPACK on the same threads) take 5.5 and 6.3 ms. A
:class:`LiteRTHandsGraph` is a drop-in for the graph of ``mp.solutions.hands.Hands(static_image_mode=False,
max_num_hands=1)``: ``process(rgb)`` returns MediaPipe's result types, from the steps of MediaPipe's
``hand_landmark_tracking_cpu`` graph written out in numpy and OpenCV (MediaPipe's own dependency):

1. no hand tracked: palm detection on the letterboxed frame (192 px), SSD anchors, weighted non-maximum suppression, and
   the best palm's box turned and enlarged into the hand's box (x2.6, shifted half a box towards the fingers);
2. the landmark model on that box cut out and turned upright (224 px), kept when its hand-presence score reaches the
   tracking threshold;
3. the next frame's box from those landmarks (x2, shifted a tenth), so the next frame needs step 2 only.

Beside MediaPipe's graph on 200 frames of the sample's photos in frame order: hands found in the same frames, the same
handedness, landmarks 0.2 px apart at the median and 3.3 px at the 95th percentile (200 px photos). The photo path
keeps MediaPipe's own graph: the landmark classifier was trained on its landmarks.
"""

from __future__ import annotations

import functools
import importlib
import math
import os
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from ..models.asl_landmarks.image_processing_asl_landmarks import quiet_native_stderr

MODELS = {
    "palm": {0: "palm_detection/palm_detection_lite.tflite", 1: "palm_detection/palm_detection_full.tflite"},
    "landmarks": {0: "hand_landmark/hand_landmark_lite.tflite", 1: "hand_landmark/hand_landmark_full.tflite"},
}
"""The model files in MediaPipe's package (``mediapipe/modules``) for each ``model_complexity``."""
PALM_SIZE, LANDMARK_SIZE = 192, 224
PALM_NMS_IOU = 0.3
PALM_TO_HAND = {"scale": 2.6, "shift_y": -0.5}
LANDMARKS_TO_HAND = {"scale": 2.0, "shift_y": -0.1}
ROI_LANDMARKS = [0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18]
"""The wrist, palm and lower finger joints that the next frame's box is built around (MediaPipe's choice)."""
Z_SCALE = 0.4
"""MediaPipe divides the landmark model's depth by this after scaling it like x."""


@dataclass
class Rect:
    """A turned box in normalised image coordinates (MediaPipe's ``NormalizedRect``); ``rotation`` in radians,
    clockwise on the image."""

    x: float
    y: float
    width: float
    height: float
    rotation: float = 0.0


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether LiteRT (``pip install ai-edge-litert``) imports and MediaPipe 0.10.14, whose wheel holds the models, can
    run here."""
    from ..models.asl_landmarks import mediapipe_available

    try:
        importlib.import_module("ai_edge_litert.interpreter")
    except (ImportError, OSError):
        return False
    return mediapipe_available()


def normalize_radians(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


@functools.lru_cache(maxsize=1)
def palm_anchors() -> np.ndarray:
    """Palm detection's 2,016 SSD anchor centres (x, y), normalised: two per cell of a 24x24 grid (stride 8), then six
    per cell of a 12x12 grid (three stride-16 layers merged). Anchor sizes are fixed at 1."""
    centres = []
    for grid, per_cell in ((PALM_SIZE // 8, 2), (PALM_SIZE // 16, 6)):
        ys, xs = np.mgrid[0:grid, 0:grid]
        cells = np.stack([(xs.ravel() + 0.5) / grid, (ys.ravel() + 0.5) / grid], 1)
        centres.append(np.repeat(cells, per_cell, 0))
    return np.concatenate(centres).astype(np.float32)


def cut_out(rgb: np.ndarray, roi_px: tuple, size: int, border: str) -> tuple[np.ndarray, tuple[float, float]]:
    """The turned box ``roi_px`` (centre x, y, width, height in pixels, rotation) of ``rgb`` (HxWx3 uint8) as a batch of
    one ``size`` square of floats in [0, 1], widened to a square first (MediaPipe's ``keep_aspect_ratio``); returns it
    with the widening (horizontal, vertical padding, as fractions of the square). ``border``: ``"zero"`` or
    ``"replicate"`` outside the frame.

    The pixels under the box are turned into floats before warping, as MediaPipe does (warping bytes moves palm scores
    by 1e-2, floats keep them within 1e-3 of MediaPipe's), and only those: a tracked hand's cost does not grow with the
    frame. OpenCV comes with MediaPipe."""
    import cv2

    cx, cy, width, height, rotation = roi_px
    pad_x = pad_y = 0.0
    if height < width:
        pad_y = (1 - height / width) / 2
        height = width
    elif width < height:
        pad_x = (1 - width / height) / 2
        width = height
    corners = cv2.boxPoints(((cx, cy), (width, height), math.degrees(rotation)))
    crop, offset = pixels_under(rgb, corners)
    target = np.array([[0, size], [0, 0], [size, 0], [size, size]], np.float32)
    matrix = cv2.getPerspectiveTransform((corners - offset).astype(np.float32), target)
    mode = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
    square = cv2.warpPerspective(crop, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=mode, borderValue=0)
    return square[None], (pad_x, pad_y)


def pixels_under(rgb: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frame's pixels under a box (its corners' bounding box, a pixel more on each side for the interpolation,
    clipped to the frame, at least one pixel) as floats in [0, 1], and where that crop starts (x, y). Outside the frame
    the crop's edges are the frame's, so a replicated border is the same as the whole frame's."""
    height, width = rgb.shape[:2]
    x0, y0 = np.floor(corners.min(0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
    x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
    x1, y1 = max(min(x1, width), x0 + 1), max(min(y1, height), y0 + 1)
    crop = np.multiply(rgb[y0:y1, x0:x1], np.float32(1 / 255), dtype=np.float32)
    return crop, np.array([x0, y0], np.float32)


def best_palm(regressors: np.ndarray, scores: np.ndarray, min_score: float):
    """The highest-scoring palm as (box xmin, ymin, xmax, ymax, keypoints 7x2), normalised to the detector's square, its
    neighbours (IoU > 0.3) averaged in by score as MediaPipe's weighted suppression does; None below ``min_score``."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(scores.reshape(-1), -100, 100)))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return None
    raw, anchors, weights = regressors.reshape(-1, 18)[keep] / PALM_SIZE, palm_anchors()[keep], scores[keep]
    centre = raw[:, :2] + anchors
    boxes = np.concatenate([centre - raw[:, 2:4] / 2, centre + raw[:, 2:4] / 2], 1)
    keypoints = raw[:, 4:].reshape(-1, 7, 2) + anchors[:, None]
    top = int(np.argmax(weights))
    group = iou(boxes[top], boxes) > PALM_NMS_IOU
    group[top] = True
    share = weights[group] / weights[group].sum()
    return (share @ boxes[group], np.tensordot(share, keypoints[group], 1))


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    low, high = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:], boxes[:, 2:])
    overlap = np.prod(np.clip(high - low, 0, None), 1)
    area = lambda b: np.prod(b[..., 2:] - b[..., :2], -1)  # noqa: E731
    return overlap / np.maximum(area(box) + area(boxes) - overlap, 1e-12)


def palm_rect(box: np.ndarray, keypoints: np.ndarray, image_size: tuple[int, int]) -> Rect:
    """The palm's box, turned so that wrist -> middle-finger base points up (keypoints 0 and 2), in image coordinates."""
    width, height = image_size
    (x0, y0), (x1, y1) = keypoints[0] * (width, height), keypoints[2] * (width, height)
    rotation = normalize_radians(math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0))
    return Rect((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1], rotation)


def landmarks_rect(points: np.ndarray, image_size: tuple[int, int]) -> Rect:
    """The box around the wrist, palm and lower finger joints (normalised ``points``, 21x2), turned so that the wrist ->
    middle of the index, middle and ring bases points up (MediaPipe's ``HandLandmarksToRectCalculator``)."""
    size = np.asarray(image_size, np.float64)
    joints = points[ROI_LANDMARKS].astype(np.float64)
    towards = ((joints[4] + joints[8]) / 2 + joints[6]) / 2 * size
    wrist = joints[0] * size
    rotation = normalize_radians(math.pi / 2 - math.atan2(-(towards[1] - wrist[1]), towards[0] - wrist[0]))
    centre = (joints.min(0) + np.maximum(joints.max(0), 0.0)) / 2  # MediaPipe starts its maxima at 0 (float min)
    cos, sin = math.cos(-rotation), math.sin(-rotation)
    upright = ((joints - centre) * size) @ np.array([[cos, sin], [-sin, cos]])
    low, high = upright.min(0), np.maximum(upright.max(0), 0.0)
    mid = (low + high) / 2
    cos, sin = math.cos(rotation), math.sin(rotation)
    shift = np.array([mid[0] * cos - mid[1] * sin, mid[0] * sin + mid[1] * cos])
    x, y = (shift + centre * size) / size
    return Rect(x, y, (high[0] - low[0]) / size[0], (high[1] - low[1]) / size[1], rotation)


def enlarge(rect: Rect, image_size: tuple[int, int], scale: float, shift_y: float) -> Rect:
    """MediaPipe's ``RectTransformationCalculator``: shift along the box's own up axis, make it square on the longer
    side in pixels, then scale."""
    width, height = image_size
    sin, cos = math.sin(rect.rotation), math.cos(rect.rotation)
    x = rect.x - height * rect.height * shift_y * sin / width
    y = rect.y + rect.height * shift_y * cos
    side = max(rect.width * width, rect.height * height)
    return Rect(x, y, side / width * scale, side / height * scale, rect.rotation)


def to_image(points: np.ndarray, rect: Rect, padding: tuple[float, float]) -> np.ndarray:
    """Landmarks from the cut-out square (normalised, x y z) back to normalised image coordinates, z scaled like x."""
    pad_x, pad_y = padding
    x = (points[:, 0] - pad_x) / (1 - 2 * pad_x) - 0.5
    y = (points[:, 1] - pad_y) / (1 - 2 * pad_y) - 0.5
    z = points[:, 2] / (1 - 2 * pad_x)
    cos, sin = math.cos(rect.rotation), math.sin(rect.rotation)
    image_x = (cos * x - sin * y) * rect.width + rect.x
    image_y = (sin * x + cos * y) * rect.height + rect.y
    return np.stack([image_x, image_y, z * rect.width], 1)


class LiteRTHandsGraph:
    """One stream's hand tracking (MediaPipe Hands' video mode, one hand) on LiteRT. ``process`` takes the frames in
    order; ``close`` frees the interpreters. Not for sharing between streams: each frame starts from the last box."""

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, threads: int | None = None):
        if model_complexity not in (0, 1):
            raise ValueError(f"model_complexity must be 0 (lite) or 1 (full), got {model_complexity!r}")
        from ai_edge_litert.interpreter import Interpreter
        import mediapipe

        modules = os.path.join(os.path.dirname(mediapipe.__file__), "modules")
        self._models = {}
        """Per model: its interpreter, input tensor and outputs in the model's own order (MediaPipe splits them by
        position)."""
        with quiet_native_stderr():  # LiteRT prints its XNNPACK line when the first model is prepared
            for kind, files in MODELS.items():
                interpreter = Interpreter(model_path=os.path.join(modules, files[model_complexity]), num_threads=threads or 1)
                interpreter.allocate_tensors()
                outputs = [output["index"] for output in interpreter.get_output_details()]
                self._models[kind] = (interpreter, interpreter.get_input_details()[0]["index"], outputs)
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self._rect: Rect | None = None

    def _run(self, kind: str, tensor: np.ndarray) -> list[np.ndarray]:
        interpreter, source, outputs = self._models[kind]
        interpreter.set_tensor(source, tensor)
        interpreter.invoke()
        return [interpreter.get_tensor(output) for output in outputs]

    def find_palm(self, rgb: np.ndarray) -> Rect | None:
        """Step 1: the hand's box from palm detection on the whole frame, or None."""
        height, width = rgb.shape[:2]
        tensor, (pad_x, pad_y) = cut_out(rgb, (width / 2, height / 2, width, height, 0.0), PALM_SIZE, "zero")
        regressors, scores = self._run("palm", tensor)
        palm = best_palm(regressors, scores, self.min_detection_confidence)
        if palm is None:
            return None
        box, keypoints = palm
        unpad = lambda xy: (xy - (pad_x, pad_y)) / (1 - 2 * pad_x, 1 - 2 * pad_y)  # noqa: E731
        box = np.concatenate([unpad(box[:2]), unpad(box[2:])])
        return enlarge(palm_rect(box, unpad(keypoints), (width, height)), (width, height), **PALM_TO_HAND)

    def find_landmarks(self, rgb: np.ndarray, rect: Rect):
        """Step 2: (points 21x3 normalised, handedness score of "Left") in ``rect``, or None below the tracking
        threshold."""
        height, width = rgb.shape[:2]
        roi_px = (rect.x * width, rect.y * height, rect.width * width, rect.height * height, rect.rotation)
        tensor, padding = cut_out(rgb, roi_px, LANDMARK_SIZE, "replicate")
        landmarks, presence, handedness, _world = self._run("landmarks", tensor)
        if float(presence.reshape(-1)[0]) < self.min_tracking_confidence:
            return None
        points = landmarks.reshape(21, 3) / LANDMARK_SIZE
        points[:, 2] /= Z_SCALE
        return to_image(points, rect, padding), float(handedness.reshape(-1)[0])

    def process(self, rgb: np.ndarray):
        """The next frame (HxWx3 uint8 RGB): a result with MediaPipe's ``multi_hand_landmarks`` and ``multi_handedness``
        (None without a hand), as ``Hands.process`` returns."""
        rgb = np.asarray(rgb, np.uint8)
        size = (rgb.shape[1], rgb.shape[0])
        rect = self._rect or self.find_palm(rgb)
        found = None if rect is None else self.find_landmarks(rgb, rect)
        self._rect = None if found is None else enlarge(landmarks_rect(found[0][:, :2], size), size, **LANDMARKS_TO_HAND)
        return hands_result(*found) if found else hands_result(None, None)

    def close(self) -> None:
        self._models = {}


def hands_result(points: np.ndarray | None, left_score: float | None):
    """MediaPipe's result shape for one hand (or none): ``multi_hand_landmarks`` and ``multi_handedness`` protobufs."""
    from mediapipe.framework.formats import classification_pb2, landmark_pb2

    if points is None:
        return SimpleNamespace(multi_hand_landmarks=None, multi_handedness=None)
    landmarks = landmark_pb2.NormalizedLandmarkList(
        landmark=[landmark_pb2.NormalizedLandmark(x=x, y=y, z=z) for x, y, z in points.tolist()])
    index, score = (0, left_score) if left_score >= 0.5 else (1, 1.0 - left_score)  # MediaPipe's handedness.txt order
    call = classification_pb2.ClassificationList(
        classification=[classification_pb2.Classification(index=index, score=score, label=("Left", "Right")[index])])
    return SimpleNamespace(multi_hand_landmarks=[landmarks], multi_handedness=[call])


__all__ = ["LiteRTHandsGraph", "available"]
