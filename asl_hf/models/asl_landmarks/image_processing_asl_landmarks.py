"""Photos -> normalised hand landmarks: MediaPipe Hands as a transformers image processor.

Self-contained (transformers, numpy, PIL; MediaPipe imported on first use) so that ``save_pretrained`` copies it
beside the model and ``AutoImageProcessor.from_pretrained(folder, trust_remote_code=True)`` and
``pipeline("image-classification")`` turn photos into the model's inputs anywhere MediaPipe is installed.

MediaPipe 0.10.14 is the release to use: it bundles the hand models (``palm_detection_full.tflite``,
``hand_landmark_full.tflite``) and runs offline; later releases download ``.task`` files at run time, and it needs
``protobuf<5`` (``pip install "mediapipe==0.10.14"``; in the asl_hf project, its ``hands`` extra).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageOps
from transformers.feature_extraction_utils import BatchFeature
from transformers.image_processing_utils import BaseImageProcessor

MEDIAPIPE_HINT = 'pip install "mediapipe==0.10.14" (in the asl_hf project: pip install -e ".[hands]")'

DEFAULT_DETECTION_ATTEMPTS = [
    {"model_complexity": 1, "padding": 0.0, "gamma": 1.0},
    {"model_complexity": 0, "padding": 0.0, "gamma": 1.0},
    {"model_complexity": 1, "padding": 0.25, "gamma": 1.0},
    {"model_complexity": 1, "padding": 0.0, "gamma": 0.6},
    {"model_complexity": 1, "padding": 0.25, "gamma": 0.4},
    {"model_complexity": 1, "padding": 0.0, "gamma": 0.4},
]
"""Tried in order until one finds a hand; only photos without a hand in the first attempt pay for the others. On the
real sample's 4,350 photos the full landmark model alone found a hand in 79.0%, with the lite model and a border
(for hands cut by the photo's edge) in 85.1%; brightening (gamma 0.6) then found 184 of the 497 hands still missed
in those dark photos, and the last two attempts (chosen greedily among five brightened variants) 107 of the 310 sign
photos still missed: 95.2% of the 4,200 sign photos. The `nothing` photos gave no detection with any attempt."""

HAND_CONNECTIONS = [
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
]
"""MediaPipe's 21-point hand skeleton (wrist 0; thumb 1-4, index 5-8, middle 9-12, ring 13-16, little 17-20)."""

_DETECTORS: dict = {}
_LOCK = threading.Lock()


def _mediapipe_hands(model_complexity: int, min_detection_confidence: float):
    """One MediaPipe Hands graph per setting, shared by the process (graphs are not picklable, so none lives on the
    processor, which transformers serialises)."""
    key = (model_complexity, min_detection_confidence)
    if key not in _DETECTORS:
        try:
            import mediapipe as mp
        except ImportError as error:
            raise ImportError(f"hand landmarks need MediaPipe: {MEDIAPIPE_HINT}") from error
        if not hasattr(mp, "solutions"):
            raise ImportError(f"this MediaPipe release ({getattr(mp, '__version__', '?')}) has no bundled hand models: {MEDIAPIPE_HINT}")
        _DETECTORS[key] = mp.solutions.hands.Hands(
            static_image_mode=True, max_num_hands=1, model_complexity=model_complexity,
            min_detection_confidence=min_detection_confidence,
        )
    return _DETECTORS[key]


@dataclass
class HandDetection:
    """One hand found in a photo: its 21 points in pixels (x, y, and depth z on x's scale) and MediaPipe's
    handedness call (for an unmirrored photo, "Left" means the signer's right hand)."""

    points: np.ndarray
    handedness: str
    score: float
    image_size: tuple[int, int]

    def box(self, margin: float = 0.25) -> tuple[int, int, int, int]:
        """A square (left, top, right, bottom) around the hand with ``margin`` of its size on each side, clipped."""
        (x0, y0), (x1, y1) = self.points[:, :2].min(0), self.points[:, :2].max(0)
        half = max(x1 - x0, y1 - y0) * (0.5 + margin)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        width, height = self.image_size
        return (max(0, int(cx - half)), max(0, int(cy - half)), min(width, int(cx + half)), min(height, int(cy + half)))


def _as_rgb_array(image) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image.detach().cpu() if hasattr(image, "detach") else image)
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = array.transpose(1, 2, 0)  # channels first
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8) if array.max(initial=0) <= 1 else np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, -1)
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected an RGB image (PIL, or an HxWxC / CxHxW array), got shape {array.shape}")
    return np.ascontiguousarray(np.repeat(array, 3, -1) if array.shape[-1] == 1 else array[..., :3])


class AslLandmarksImageProcessor(BaseImageProcessor):
    r"""
    Finds one hand with MediaPipe Hands and returns its 21 landmarks normalised for position, scale and handedness:
    wrist at the origin, largest wrist-to-point distance in the image plane 1, and hands that MediaPipe calls the
    other way than ``canonical_handedness`` mirrored (x negated), so a left-handed signer's letters look like the
    training signer's.

    Args:
        min_detection_confidence (`float`, defaults to 0.1): MediaPipe's palm-detection threshold. The data set's
            `nothing` photos (an empty wall) gave no detection even at 0.1.
        detection_attempts (`list[dict]`): ``{"model_complexity": 0|1, "padding": fraction, "gamma": g}`` tried in
            order until one finds a hand (padding adds a border of the photo's mean colour, for hands cut by the
            photo's edge; gamma < 1 brightens dark photos).
        canonical_handedness (`str`, defaults to `"Left"`): MediaPipe's handedness call for the hand the model was
            trained on (the ASL Alphabet signer's right hand in unmirrored photos).

    Returns ``landmarks`` ``(batch, 21, 3)`` float32 (zeros where no hand) and ``hand_found`` ``(batch,)`` bool.
    """

    model_input_names = ["landmarks", "hand_found"]

    def __init__(
        self,
        min_detection_confidence: float = 0.1,
        detection_attempts: list[dict] | None = None,
        canonical_handedness: str = "Left",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if canonical_handedness not in ("Left", "Right"):
            raise ValueError(f"canonical_handedness must be 'Left' or 'Right', got {canonical_handedness!r}")
        self.min_detection_confidence = float(min_detection_confidence)
        self.detection_attempts = [dict(a) for a in (detection_attempts or DEFAULT_DETECTION_ATTEMPTS)]
        self.canonical_handedness = canonical_handedness

    def detect(self, image) -> HandDetection | None:
        """The hand in one photo, or None when no attempt finds one."""
        rgb = _as_rgb_array(image)
        height, width = rgb.shape[:2]
        for attempt in self.detection_attempts:
            pad = int(round(float(attempt.get("padding", 0.0)) * max(width, height)))
            source = rgb
            gamma = float(attempt.get("gamma", 1.0))
            if gamma != 1.0:
                source = (255.0 * (source / 255.0) ** gamma).round().astype(np.uint8)
            if pad:
                fill = tuple(int(v) for v in rgb.reshape(-1, 3).mean(0))
                source = np.asarray(ImageOps.expand(Image.fromarray(source), pad, fill=fill))
            hands = _mediapipe_hands(int(attempt.get("model_complexity", 1)), self.min_detection_confidence)
            with _LOCK, warnings.catch_warnings():
                # protobuf 4 warns on every call that MediaPipe 0.10.14 uses a deprecated API; nothing a user can act on
                warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
                result = hands.process(source)
            if result.multi_hand_landmarks:
                full_h, full_w = source.shape[:2]
                points = np.array([[p.x * full_w - pad, p.y * full_h - pad, p.z * full_w] for p in result.multi_hand_landmarks[0].landmark], np.float32)
                call = result.multi_handedness[0].classification[0]
                return HandDetection(points, call.label, float(call.score), (width, height))
        return None

    def normalise(self, detection: HandDetection) -> np.ndarray:
        """Wrist at the origin, unit scale, mirrored onto the canonical hand: the model's input for one hand."""
        points = detection.points - detection.points[0]
        if detection.handedness != self.canonical_handedness:
            points[:, 0] = -points[:, 0]
        scale = float(np.linalg.norm(points[:, :2], axis=1).max())
        return (points / scale if scale > 0 else points).astype(np.float32)

    def preprocess(self, images, return_tensors=None, **kwargs) -> BatchFeature:
        """``landmarks`` and ``hand_found`` for an image or a list of images (PIL, numpy or torch)."""
        if isinstance(images, (list, tuple)):
            images = list(images)
        else:
            images = [images]
        landmarks = np.zeros((len(images), 21, 3), np.float32)
        found = np.zeros(len(images), bool)
        for i, image in enumerate(images):
            detection = self.detect(image)
            if detection is not None:
                landmarks[i], found[i] = self.normalise(detection), True
        return BatchFeature(data={"landmarks": landmarks, "hand_found": found}, tensor_type=return_tensors)

    @staticmethod
    def draw(image: Image.Image, detection: HandDetection | None, crop_margin: float | None = 0.25) -> Image.Image:
        """The photo with the hand's skeleton drawn on it (and cropped around the hand unless ``crop_margin`` is
        None): what the model looked at."""
        image = image.convert("RGB").copy()
        if detection is None:
            return image
        draw = ImageDraw.Draw(image)
        radius = max(2, round(min(image.size) / 120))
        xy = detection.points[:, :2]
        for a, b in HAND_CONNECTIONS:
            draw.line([tuple(xy[a]), tuple(xy[b])], fill=(0, 220, 120), width=max(1, radius // 2 + 1))
        for x, y in xy:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(255, 60, 60))
        return image.crop(detection.box(crop_margin)) if crop_margin is not None else image


__all__ = ["AslLandmarksImageProcessor", "HandDetection", "HAND_CONNECTIONS", "MEDIAPIPE_HINT"]
