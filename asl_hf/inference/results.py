"""What a classifier answers: a batch's probabilities (:class:`Classification`) and one image's best labels
(:class:`Prediction`). Shared by :class:`~asl_hf.inference.classifier.ImageClassifier` and the streams it makes."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Classification(NamedTuple):
    """Probabilities of a batch of images, and which of them showed a hand."""

    probabilities: np.ndarray
    """``[N, num_classes]`` float32, columns in ``ImageClassifier.labels`` order."""
    hand_found: np.ndarray | None
    """``[N]`` bool for landmark models (False: no hand, the row is all ``no_hand_label``); None for pixel models,
    which classify the whole photo and never look for a hand."""


class Prediction(NamedTuple):
    """One image's best ``(label, probability)`` pairs and whether a hand was found (None: the model does not look)."""

    top: list[tuple[str, float]]
    hand_found: bool | None
    detection: object | None = None
    """Landmark models: the ``HandDetection`` that was classified (draw it with :meth:`ImageClassifier.draw`)."""


__all__ = ["Classification", "Prediction"]
