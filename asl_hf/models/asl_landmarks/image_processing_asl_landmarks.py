"""Photos -> normalised hand landmarks: MediaPipe Hands as a transformers image processor.

Self-contained (transformers, numpy, PIL; MediaPipe imported on first use) so that ``save_pretrained`` copies it
beside the model and ``AutoImageProcessor.from_pretrained(folder, trust_remote_code=True)`` and
``pipeline("image-classification")`` turn photos into the model's inputs anywhere MediaPipe is installed.

MediaPipe 0.10.14 is the release to use: it bundles the hand models (``palm_detection_full.tflite``,
``hand_landmark_full.tflite``) and runs offline; later releases download ``.task`` files at run time, and it needs
``protobuf<5`` (``pip install "mediapipe==0.10.14"``; in the asl_hf project, its ``hands`` extra).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import threading
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from transformers.feature_extraction_utils import BatchFeature
from transformers.image_processing_utils import BaseImageProcessor

MEDIAPIPE_HINT = 'pip install "mediapipe==0.10.14" (in the asl_hf project: pip install -e ".[hands]")'

DEFAULT_DETECTION_ATTEMPTS = [
    {"model_complexity": 1, "padding": 0.5, "fill": "black", "when": "dark_border"},
    {"model_complexity": 1, "padding": 0.0, "gamma": 1.0},
    {"model_complexity": 0, "padding": 0.0, "gamma": 1.0},
    {"model_complexity": 1, "padding": 0.25, "gamma": 1.0},
    {"model_complexity": 1, "padding": 0.0, "gamma": 0.6},
    {"model_complexity": 1, "padding": 0.25, "gamma": 0.4},
    {"model_complexity": 1, "padding": 0.0, "gamma": 0.4},
    {"model_complexity": 0, "padding": 0.25, "scale": 0.5},
]
"""Tried in order until one finds a hand; only photos without a hand in the first attempt pay for the others.

The six middle attempts were chosen on the real ASL Alphabet sample (4,350 photos): the full landmark model alone
found a hand in 79.0%, with the lite model and a border (for hands cut by the photo's edge) in 85.1%; brightening
(gamma 0.6, then two greedily chosen variants) brought the 4,200 sign photos to 95.2%. The `nothing` photos gave no
detection with any attempt.

The first and last were measured on the segmented photos of ``other_signers_train`` (hands cut tight and pasted on
black): with the six alone MediaPipe found 98.5% of them. A wide black border first, only for photos whose own border
is black (``"when": "dark_border"``: 90% of a 3-pixel ring darker than 24 in every channel; no ASL Alphabet or
``other_signers_dev`` photo has one), and a half-size lite attempt last brought them to 99.9%, and the
leave-one-person-out accuracy of the landmark model from 82.7% to 94.1%."""

DARK_BORDER_WIDTH = 3
DARK_BORDER_LEVEL = 24
DARK_BORDER_FRACTION = 0.9

HAND_CONNECTIONS = [
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
]
"""MediaPipe's 21-point hand skeleton (wrist 0; thumb 1-4, index 5-8, middle 9-12, ring 13-16, little 17-20)."""

_DETECTORS: dict = {}
_LOCK = threading.Lock()
_STDERR_LOCK = threading.Lock()
_START_UP_CHATTER = re.compile(
    r"(INFO: Created TensorFlow Lite XNNPACK delegate"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} [\d:. ]+\d+ [\w.]+:\d+\] )"
)
"""What MediaPipe's C++ side prints on file descriptor 2 when a graph starts (TensorFlow Lite's delegate line, absl's
preamble, glog info/warning lines such as the feedback-manager one): nothing a user can act on. glog errors (``E``) and
fatal lines (``F``), and anything else, are not matched and reach stderr."""
_BLANK = np.zeros((64, 64, 3), np.uint8)


def _forward_stderr(read_end: int, stderr: int, held: list[bytes]) -> None:
    """Copy what arrives on the pipe to the real stderr line by line as it comes, except start-up chatter (``held``):
    a fatal C++ check prints its line, then a stack trace, then aborts the process, and the line must be out by then."""
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if _START_UP_CHATTER.match(line.decode("utf-8", "replace")):
                    held.append(line + b"\n")
                else:
                    os.write(stderr, line + b"\n")
        if pending:
            os.write(stderr, pending)


@contextlib.contextmanager
def quiet_native_stderr():
    """Run a block with file descriptor 2 sent through a filter that drops MediaPipe's start-up chatter and passes
    everything else on at once; if the block raises, the chatter is written too (it may explain the error).

    The C++ side writes to the descriptor itself, so neither Python's logging nor environment variables reach it.
    The redirection is process-wide and short (a graph's creation and first frame); other threads' stderr output in
    the meantime passes through the same filter. Without a usable descriptor 2 the block runs unchanged."""
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):
            yield
            return
        read_end, write_end = os.pipe()
        held: list[bytes] = []
        forwarder = threading.Thread(target=_forward_stderr, args=(read_end, saved, held), name="mediapipe-stderr", daemon=True)
        forwarder.start()
        os.dup2(write_end, 2)
        os.close(write_end)
        raised = False
        try:
            yield
        except BaseException:
            raised = True
            raise
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)  # the pipe's last write end closes: the forwarder reads to the end and stops
            forwarder.join(timeout=5)
            if raised and held:
                os.write(saved, b"".join(held))
            os.close(saved)


@contextlib.contextmanager
def _no_protobuf_warning():
    """protobuf 4 warns on every call that MediaPipe 0.10.14 uses a deprecated API; nothing a user can act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
        yield


def _hands_on_threads(mp, threads: int, side_inputs: dict, calculator_params: dict, outputs: list[str]):
    """``mp.solutions.hands.Hands`` built from its own bundled graph with both TensorFlow Lite models (palm detection,
    landmarks) on ``threads`` XNNPACK threads: the graph leaves the delegate's default, one thread, and Hands has no
    setting for it. The rest is exactly what ``Hands.__init__`` builds (MediaPipe 0.10.14)."""
    from mediapipe.calculators.tensor import inference_calculator_pb2
    from mediapipe.framework import calculator_pb2
    from mediapipe.python import solution_base
    from mediapipe.python._framework_bindings import resource_util, validated_graph_config

    root = os.sep.join(os.path.abspath(solution_base.__file__).split(os.sep)[:-3])
    resource_util.set_resource_dir(root)
    validated = validated_graph_config.ValidatedGraphConfig()
    validated.initialize(binary_graph_path=os.path.join(root, mp.solutions.hands._BINARYPB_FILE_PATH))
    config = calculator_pb2.CalculatorGraphConfig.FromString(validated.binary_config)
    for node in config.node:
        if node.calculator.startswith("InferenceCalculator"):
            options = node.options.Extensions[inference_calculator_pb2.InferenceCalculatorOptions.ext]
            options.delegate.xnnpack.num_threads = threads
    graph = object.__new__(mp.solutions.hands.Hands)
    solution_base.SolutionBase.__init__(graph, graph_config=config, side_inputs=side_inputs, calculator_params=calculator_params,
                                        outputs=outputs)
    return graph


def new_hands_graph(static_image_mode: bool, model_complexity: int, min_detection_confidence: float,
                    min_tracking_confidence: float = 0.5, threads: int | None = None):
    """A MediaPipe Hands graph for one hand, already run once on a blank frame: its models load on the first frame, and
    doing that here, inside :func:`quiet_native_stderr`, keeps their start-up lines off the user's terminal.

    ``static_image_mode=False`` is MediaPipe's video mode: palm detection only until a hand is found, then the landmark
    model on the box tracked from the previous frame. A blank warm-up frame leaves no hand to track. ``threads``: the
    models' XNNPACK threads (None: MediaPipe's default, one); on 2 cores, 2 threads take a third off palm detection."""
    if model_complexity not in (0, 1):  # MediaPipe aborts the process on other values
        raise ValueError(f"model_complexity must be 0 (lite) or 1 (full), got {model_complexity!r}")
    if threads is not None and not (isinstance(threads, int) and threads >= 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    try:
        import mediapipe as mp
    except ImportError as error:
        raise ImportError(f"hand landmarks need MediaPipe: {MEDIAPIPE_HINT}") from error
    if not hasattr(mp, "solutions"):
        raise ImportError(f"this MediaPipe release ({getattr(mp, '__version__', '?')}) has no bundled hand models: {MEDIAPIPE_HINT}")
    with quiet_native_stderr(), _no_protobuf_warning():
        if threads is None:
            graph = mp.solutions.hands.Hands(
                static_image_mode=static_image_mode, max_num_hands=1, model_complexity=model_complexity,
                min_detection_confidence=min_detection_confidence, min_tracking_confidence=min_tracking_confidence,
            )
        else:
            graph = _hands_on_threads(
                mp, threads,
                side_inputs={"model_complexity": model_complexity, "num_hands": 1, "use_prev_landmarks": not static_image_mode},
                calculator_params={"palmdetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": min_detection_confidence,
                                   "handlandmarkcpu__ThresholdingCalculator.threshold": min_tracking_confidence},
                outputs=["multi_hand_landmarks", "multi_hand_world_landmarks", "multi_handedness"],
            )
        try:
            graph.process(_BLANK)
        except BaseException:
            graph.close()
            raise
    return graph


def run_hands_graph(graph, rgb: np.ndarray):
    """``graph.process(rgb)`` without protobuf's per-call deprecation warning."""
    with _no_protobuf_warning():
        return graph.process(rgb)


def _mediapipe_hands(model_complexity: int, min_detection_confidence: float):
    """One photo-mode graph per setting, shared by the process (graphs are not picklable, so none lives on the
    processor, which transformers serialises)."""
    key = (model_complexity, min_detection_confidence)
    if key not in _DETECTORS:
        _DETECTORS[key] = new_hands_graph(True, model_complexity, min_detection_confidence)
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


def as_rgb_array(image) -> np.ndarray:
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


def hand_from_result(result, shape: tuple[int, int], pad: int, image_size: tuple[int, int]) -> HandDetection | None:
    """The first hand of a MediaPipe Hands result in the pixels of the original photo (``shape``: the height and width
    the graph saw, ``pad`` pixels of border on each side; ``image_size``: the photo's width and height), or None."""
    if not result.multi_hand_landmarks:
        return None
    height, width = shape
    points = np.array([[p.x * width - pad, p.y * height - pad, p.z * width] for p in result.multi_hand_landmarks[0].landmark], np.float32)
    call = result.multi_handedness[0].classification[0]
    return HandDetection(points, call.label, float(call.score), image_size)


def has_dark_border(rgb: np.ndarray, width: int = DARK_BORDER_WIDTH) -> bool:
    """Whether a photo looks segmented onto black: most of its outer ring of pixels is near-black in every channel."""
    ring = np.concatenate([rgb[:width].reshape(-1, 3), rgb[-width:].reshape(-1, 3),
                           rgb[:, :width].reshape(-1, 3), rgb[:, -width:].reshape(-1, 3)])
    return bool((ring.max(1) < DARK_BORDER_LEVEL).mean() >= DARK_BORDER_FRACTION)


def attempt_applies(attempt: dict, rgb: np.ndarray) -> bool:
    """Whether a gated attempt (``"when": "dark_border"``) is for this photo; attempts without a gate always are."""
    when = attempt.get("when")
    if when in (None, "always"):
        return True
    if when == "dark_border":
        return has_dark_border(rgb)
    raise ValueError(f"unknown detection attempt condition when={when!r} (expected 'dark_border' or 'always')")


def border_fill(rgb: np.ndarray, fill) -> tuple[int, int, int]:
    """The colour of an attempt's border: the photo's mean colour (``"mean"``, the default), ``"black"``, or RGB."""
    if fill in (None, "mean"):
        return tuple(int(v) for v in rgb.reshape(-1, 3).mean(0))
    if fill == "black":
        return (0, 0, 0)
    return tuple(int(v) for v in fill)


@functools.lru_cache(maxsize=16)
def gamma_table(gamma: float) -> np.ndarray:
    """The 256 brightened values of ``gamma``: the same values as the formula per pixel, without per-pixel powers."""
    return (255.0 * (np.arange(256) / 255.0) ** gamma).round().astype(np.uint8)


def with_border(rgb: np.ndarray, pad: int, fill: tuple[int, int, int]) -> np.ndarray:
    """``rgb`` inside a border of ``pad`` pixels of colour ``fill`` on every side."""
    height, width = rgb.shape[:2]
    row = np.tile(np.asarray(fill, np.uint8), width + 2 * pad)  # one row of fill, copied down: numpy broadcasts a
    framed = np.ascontiguousarray(np.broadcast_to(row, (height + 2 * pad, row.size)))  # 3-value colour slowly per pixel
    framed = framed.reshape(height + 2 * pad, width + 2 * pad, 3)
    framed[pad : pad + height, pad : pad + width] = rgb
    return framed


def attempt_image(rgb: np.ndarray, attempt: dict) -> tuple[np.ndarray, int, float]:
    """What one detection attempt shows MediaPipe: the photo brightened (``gamma`` < 1), resized (``scale``), and with
    a border (``padding``, a fraction of its longer side, for hands cut by the edge; ``fill``: its colour); with the
    border's width in pixels and the scale, to bring the hand back into the photo's own pixels."""
    source = rgb
    gamma = float(attempt.get("gamma", 1.0))
    if gamma != 1.0:
        source = np.take(gamma_table(gamma), source)
    scale = float(attempt.get("scale", 1.0))
    if scale != 1.0:
        height, width = source.shape[:2]
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        source = np.asarray(Image.fromarray(source).resize(size, Image.BILINEAR))
    pad = int(round(float(attempt.get("padding", 0.0)) * max(source.shape[:2])))
    if pad:
        source = with_border(source, pad, border_fill(rgb, attempt.get("fill")))
    return source, pad, scale


def detect_in(graph, rgb: np.ndarray, attempt: dict) -> HandDetection | None:
    """One detection attempt (:func:`attempt_image`) with ``graph``, the hand in the photo's own pixels, or None."""
    source, pad, scale = attempt_image(rgb, attempt)
    detection = hand_from_result(run_hands_graph(graph, source), source.shape[:2], pad, (rgb.shape[1], rgb.shape[0]))
    if detection is not None and scale != 1.0:
        detection.points = detection.points / scale
    return detection


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
            order until one finds a hand (padding adds a border of the photo's mean colour, or ``"fill": "black"``,
            for hands cut by the photo's edge; gamma < 1 brightens dark photos; ``"scale"`` resizes first;
            ``"when": "dark_border"`` keeps an attempt for photos segmented onto black). Defaults to
            :data:`DEFAULT_DETECTION_ATTEMPTS`.
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
        rgb = as_rgb_array(image)
        for attempt in self.detection_attempts:
            if not attempt_applies(attempt, rgb):
                continue
            with _LOCK:
                hands = _mediapipe_hands(int(attempt.get("model_complexity", 1)), self.min_detection_confidence)
                detection = detect_in(hands, rgb, attempt)
            if detection is not None:
                return detection
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


__all__ = [
    "AslLandmarksImageProcessor", "HandDetection", "HAND_CONNECTIONS", "MEDIAPIPE_HINT", "as_rgb_array", "attempt_image", "attempt_applies", "detect_in", "has_dark_border",
    "hand_from_result", "new_hands_graph", "quiet_native_stderr", "run_hands_graph",
]
