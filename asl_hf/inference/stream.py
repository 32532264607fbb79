"""Classifying the ordered frames of one video or webcam stream.

A photo is classified on its own; a frame of a video comes right after the one before. For the hand-landmark model
that matters: :class:`FrameStream` follows the hand with a :class:`~asl_hf.inference.hands.HandTracker` (MediaPipe's
video mode) instead of searching every frame as a new photo. Pixel models classify each frame exactly as they classify
a photo. Get one with :meth:`ImageClassifier.stream`, one per stream, and close it when the stream ends::

    with classifier.stream() as stream:
        for frame in frames:
            prediction = stream.predict(frame)   # top labels, hand_found and the tracked hand
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .hands import HandTracker
from .results import Classification, Prediction


class FrameStream:
    """One stream's frames, in order, through one classifier: the same answers as the classifier's own calls, except
    that a landmark model's hand comes from tracking. Not for unrelated photos (use the classifier itself)."""

    def __init__(self, classifier, calibration=None, **tracker_options):
        self.classifier = classifier
        self.calibration = classifier._checked_calibration(calibration) if calibration is not None else classifier.calibration
        """The person's calibration this stream's frames are classified with (None: the model's own answers)."""
        self.tracker = HandTracker(classifier.processor, **tracker_options) if classifier.detects_hands else None
        """The stream's hand tracker (landmark models; ``tracker_options`` go to :class:`HandTracker`), None for pixel
        models."""

    @property
    def labels(self) -> list[str]:
        return self.classifier.labels

    def _find_hands(self, images) -> list:
        return [self.tracker.track(image) for image in images]

    def _classified(self, images: Sequence) -> tuple[Classification, list | None]:
        return self.classifier._classified(images, self._find_hands if self.tracker is not None else None, self.calibration)

    def classify(self, images: Sequence) -> Classification:
        """Probabilities (and ``hand_found``) of the next frames of the stream, in the order they were shown."""
        return self._classified(images)[0]

    def predict_proba(self, images: Sequence) -> np.ndarray:
        """``[N, num_classes]`` probabilities of the next frames, columns in ``labels`` order."""
        return self.classify(images).probabilities

    def predict_with_hands(self, images: Sequence, top_k: int = 5) -> list[Prediction]:
        """Each next frame's top ``top_k`` pairs, ``hand_found`` and (landmark models) the tracked hand."""
        return self.classifier.predictions_of(*self._classified(images), top_k=top_k)

    def predict(self, image, top_k: int = 5) -> Prediction:
        """The next ONE frame's :class:`Prediction` (a webcam stream's frames arrive one at a time)."""
        return self.predict_with_hands([image], top_k)[0]

    def close(self) -> None:
        """Release the tracker's MediaPipe graph (nothing to release for pixel models). Closing twice is fine."""
        if self.tracker is not None:
            self.tracker.close()

    def __enter__(self) -> FrameStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["FrameStream"]
