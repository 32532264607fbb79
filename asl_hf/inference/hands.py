"""One video's hand, followed from frame to frame with MediaPipe Hands' video mode.

The photo path (:meth:`AslLandmarksImageProcessor.detect`) treats every image as unrelated: palm detection, then the
landmark model, and up to eight attempts (lite model, borders, brightening, half size) for a photo without a found hand. Frames of a
video are related: MediaPipe's video mode (``static_image_mode=False``) runs palm detection only until it finds a hand,
then only the landmark model, on the box it tracks from the previous frame's landmarks. A :class:`HandTracker` holds one
such graph for one stream of frames in order (one video, one visitor's webcam): never share one between streams, since
each frame is tracked from the last one it saw. The graph is MediaPipe's steps and models run by LiteRT
(:mod:`asl_hf.inference.litert_hands`, twice as fast) when ``ai-edge-litert`` is installed, MediaPipe's own otherwise.
"""

from __future__ import annotations

import threading

import torch

from ..models.asl_landmarks.image_processing_asl_landmarks import (
    HandDetection, as_rgb_array, attempt_applies, detect_in, new_hands_graph,
)
from . import litert_hands

BACKENDS = {"litert": "LiteRT (MediaPipe's hand models and steps)", "mediapipe": "MediaPipe's video-mode graph"}
"""Who runs a stream's hand models, and how outputs name it: LiteRT (:mod:`asl_hf.inference.litert_hands`, twice
MediaPipe's speed) when ``ai-edge-litert`` is installed, MediaPipe's own graph otherwise."""


def default_backend() -> str:
    """The tracker a stream gets when none is asked for: ``"litert"`` when LiteRT is installed, else ``"mediapipe"``."""
    return "litert" if litert_hands.available() else "mediapipe"

DEFAULT_MIN_TRACKING_CONFIDENCE = 0.5
"""MediaPipe's default: below this hand-presence score on the tracked box, the next frame runs palm detection again."""
DEFAULT_SEARCH_VIEWS = ({}, {"gamma": 0.4})
"""How a stream looks for a hand it is not tracking, one view per frame in turn: the frame as it is, then brightened with
gamma 0.4 (the photo-path attempt that, measured on videos of the real sample's held-out photos, recovers most of the
hands video mode misses in the plain frames: 72 of 92). The view that finds the hand is kept while it is tracked."""
NEUTRAL_FRAMING = {"padding": (0, 0.0), "fill": (None, "mean"), "scale": (1, 1.0)}
"""Framing values that leave a frame as it is (a fill only matters with padding)."""


class HandTracker:
    """MediaPipe Hands in video mode for one stream of frames, created on the first frame and closed by :meth:`close`
    (or the ``with`` block). The landmark model (full or lite) is the processor's first detection attempt's and the
    palm-detection threshold the processor's, unless ``model_complexity`` and ``min_detection_confidence`` say
    otherwise.

    A frame costs one run of the graph: the landmark model on the tracked box while a hand is tracked, palm detection
    while none is. A hand is searched in ``search_views`` in turn, one per frame (by default the plain frame, then a
    brightened copy, which finds hands in dark frames that plain palm detection misses), so a run of frames without a
    hand pays one palm detection each. The one frame that costs two runs is the one where tracking loses the hand: it
    is searched again at once, so a hand that jumped is found in the same frame. Frames get the framing of the
    processor's first detection attempt that applies to them (a wide black border for frames segmented onto black, as
    for photos). The graph runs on ``threads`` XNNPACK threads, on ``backend`` (``"litert"`` or ``"mediapipe"``; None:
    LiteRT where installed).

    Measured on videos of held-out real photos (``scripts/benchmark_tracking.py``, 2-core AMD EPYC), full model, median
    ms a frame with a hand / without, quiet machine (busy): LiteRT 8.9-9.3 / 9.1-9.6 (10.8-11.7 / 11.6-12.5), 95.66% of
    frames right, 10 of 10 words; MediaPipe's graph 15.2 / 16.0 (17.0-18.1 / 18.4-20.1), 95.86%, 10 of 10; the photo
    path 52 / 224, 93.49%, 8 of 10. The lite model (``model_complexity=0``) is faster still and gets fewer frames right
    (90%): for CPUs too slow for the full one."""

    def __init__(self, processor, min_tracking_confidence: float = DEFAULT_MIN_TRACKING_CONFIDENCE,
                 search_views=DEFAULT_SEARCH_VIEWS, threads: int | None = None, model_complexity: int | None = None,
                 min_detection_confidence: float | None = None, backend: str | None = None):
        if backend not in (None, *BACKENDS):
            raise ValueError(f"backend must be one of {tuple(BACKENDS)} or None (LiteRT when installed), got {backend!r}")
        self.backend = backend or default_backend()
        first = processor.detection_attempts[0] if processor.detection_attempts else {}
        self.processor = processor
        self.threads = threads or torch.get_num_threads()
        """MediaPipe's XNNPACK threads for this stream's graph: torch's count by default, so a server that gives each
        request fewer threads (the Space: cores / concurrent requests) limits these too."""
        self.model_complexity = int(first.get("model_complexity", 1) if model_complexity is None else model_complexity)
        self.min_detection_confidence = float(processor.min_detection_confidence if min_detection_confidence is None else min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.search_views = [dict(view) for view in search_views] or [{}]
        self._view = 0
        """The search view the tracked hand was found in, or the one the next frame without a tracked hand tries."""
        self._tracking = False
        self._graph = None
        self._closed = False
        self._lock = threading.Lock()
        """Frames of one stream are tracked one at a time, even when a server hands them to two worker threads."""

    def framing(self, rgb) -> dict:
        """The padding (and its fill, and scale) of the processor's first detection attempt that applies to this frame."""
        for attempt in self.processor.detection_attempts:
            if attempt_applies(attempt, rgb):
                framing = {"padding": attempt.get("padding", 0.0), "fill": attempt.get("fill"), "scale": attempt.get("scale", 1.0)}
                return {key: value for key, value in framing.items() if value not in NEUTRAL_FRAMING[key]}
        return {}

    def track(self, image) -> HandDetection | None:
        """The hand in the next frame of the stream (PIL image or HxWx3 uint8 array), or None."""
        rgb = as_rgb_array(image)
        with self._lock:
            if self._closed:
                raise RuntimeError("this HandTracker is closed; start a new stream for new frames")
            if self._graph is None:
                self._graph = self._new_graph()
            view = {**self.framing(rgb), **self.search_views[self._view]}
            detection = detect_in(self._graph, rgb, view)
            if detection is None and self._tracking:  # lost on this frame: the graph's next run is palm detection
                detection = detect_in(self._graph, rgb, view)
            if detection is None:  # palm detection missed: the next frame tries the next view
                self._view = (self._view + 1) % len(self.search_views)
            self._tracking = detection is not None
        return detection

    def _new_graph(self):
        options = (self.model_complexity, self.min_detection_confidence, self.min_tracking_confidence, self.threads)
        if self.backend == "litert":
            return litert_hands.LiteRTHandsGraph(*options)
        return new_hands_graph(False, *options)

    @property
    def started(self) -> bool:
        """Whether the MediaPipe graph exists (it is created on the first frame)."""
        return self._graph is not None

    def close(self) -> None:
        """Release the MediaPipe graph (threads and models); further frames are an error. Closing twice is fine."""
        with self._lock:
            graph, self._graph, self._closed = self._graph, None, True
        if graph is not None:
            graph.close()

    def __enter__(self) -> HandTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["BACKENDS", "DEFAULT_MIN_TRACKING_CONFIDENCE", "default_backend", "DEFAULT_SEARCH_VIEWS", "HandTracker"]
