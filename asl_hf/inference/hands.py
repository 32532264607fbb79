"""One video's hand, followed from frame to frame with MediaPipe Hands' own video mode.

The photo path (:meth:`AslLandmarksImageProcessor.detect`) treats every image as unrelated: palm detection, then the
landmark model, and up to eight attempts (lite model, borders, brightening, half size) for a photo without a found hand. Frames of a
video are related: MediaPipe's video mode (``static_image_mode=False``) runs palm detection only until it finds a hand,
then only the landmark model, on the box it tracks from the previous frame's landmarks. A :class:`HandTracker` holds one
such graph for one stream of frames in order (one video, one visitor's webcam): never share one between streams, since
each frame is tracked from the last one it saw.
"""

from __future__ import annotations

import threading

import torch

from ..models.asl_landmarks.image_processing_asl_landmarks import HandDetection, as_rgb_array, detect_in, new_hands_graph

DEFAULT_MIN_TRACKING_CONFIDENCE = 0.5
"""MediaPipe's default: below this hand-presence score on the tracked box, the next frame runs palm detection again."""
DEFAULT_FALLBACK = {"model_complexity": 1, "padding": 0.0, "gamma": 0.4}
"""The one photo-path attempt a frame gets when tracking finds no hand: the full model on the frame brightened with
gamma 0.4. Measured on videos of the real sample's held-out photos (``scripts/benchmark_tracking.py``), it is the
single attempt that recovers most of the hands video mode misses in those dark photos (72 of 92; the plain full model:
42), which takes per-frame accuracy from 81% to 90% (the photo path with its six attempts of then: 89%)."""


class HandTracker:
    """MediaPipe Hands in video mode for one stream of frames, created on the first frame and closed by :meth:`close`
    (or the ``with`` block). The palm-detection threshold and the model (full or lite) are the landmark processor's
    first detection attempt, the one the model was trained with.

    A frame where tracking finds no hand gets ONE photo-path attempt, ``fallback`` (None: none): palm detection on a
    brightened copy, with a photo-mode graph of the stream's own, which finds hands in dark frames that video mode's
    plain palm detection misses. The photo path's attempts (up to eight) would make every frame without a hand the slowest
    kind; this makes it cost two palm detections. Both graphs run on ``threads`` XNNPACK threads."""

    def __init__(self, processor, min_tracking_confidence: float = DEFAULT_MIN_TRACKING_CONFIDENCE,
                 fallback: dict | None = DEFAULT_FALLBACK, threads: int | None = None):
        first = processor.detection_attempts[0] if processor.detection_attempts else {}
        self.processor = processor
        self.threads = threads or torch.get_num_threads()
        """MediaPipe's XNNPACK threads for this stream's models: torch's count by default, so a server that gives each
        request fewer threads (the Space: cores / concurrent requests) limits these too."""
        self.model_complexity = int(first.get("model_complexity", 1))
        self.min_detection_confidence = float(processor.min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.fallback = dict(fallback) if fallback is not None else None
        self._graph = None
        self._fallback_graph = None
        self._closed = False
        self._lock = threading.Lock()
        """Frames of one stream are tracked one at a time, even when a server hands them to two worker threads."""

    def track(self, image) -> HandDetection | None:
        """The hand in the next frame of the stream (PIL image or HxWx3 uint8 array), or None."""
        rgb = as_rgb_array(image)
        with self._lock:
            if self._closed:
                raise RuntimeError("this HandTracker is closed; start a new stream for new frames")
            if self._graph is None:
                self._graph = new_hands_graph(False, self.model_complexity, self.min_detection_confidence, self.min_tracking_confidence,
                                              self.threads)
            detection = detect_in(self._graph, rgb, {})
            if detection is None and self.fallback is not None:
                if self._fallback_graph is None:  # a photo-mode graph of the stream's own, on the same threads
                    complexity = int(self.fallback.get("model_complexity", 1))
                    self._fallback_graph = new_hands_graph(True, complexity, self.min_detection_confidence, threads=self.threads)
                detection = detect_in(self._fallback_graph, rgb, self.fallback)
        return detection

    @property
    def started(self) -> bool:
        """Whether the MediaPipe graph exists (it is created on the first frame)."""
        return self._graph is not None

    def close(self) -> None:
        """Release the MediaPipe graph (threads and models); further frames are an error. Closing twice is fine."""
        with self._lock:
            graphs = (self._graph, self._fallback_graph)
            self._graph, self._fallback_graph, self._closed = None, None, True
        for graph in graphs:
            if graph is not None:
                graph.close()

    def __enter__(self) -> HandTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["DEFAULT_FALLBACK", "DEFAULT_MIN_TRACKING_CONFIDENCE", "HandTracker"]
