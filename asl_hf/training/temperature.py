"""Temperature scaling: make a trained model's probabilities mean what they say, without changing its answers.

A network trained with cross-entropy is often over- or under-confident: "95%" may be right 80% of the time. One
scalar T, fitted on the validation split by minimising the negative log-likelihood (Guo et al. 2017), fixes most of
that. Here T is folded into the weights of the model's last linear layer (``W / T``, ``b / T``), so the saved model
itself, and every way of running it (``pipeline``, timm, ONNX, the Space), gives the calibrated probabilities. For a
plain linear head this divides the logits by T and never changes the top class.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

CANDIDATES = np.geomspace(0.25, 8.0, 41)
"""Temperatures tried (log-spaced): wide enough for label-smoothed (under-confident, T < 1) and over-fitted (T > 1) models."""


@torch.no_grad()
def scale_head(head: nn.Linear, factor: float) -> None:
    """Multiply the layer's outputs by ``factor`` (its weight and bias together)."""
    head.weight.mul_(factor)
    if head.bias is not None:
        head.bias.mul_(factor)


def fit_temperature(head: nn.Linear, validation_nll: Callable[[], float]) -> tuple[float, float, float]:
    """The temperature with the lowest validation NLL, folded into ``head``; returns ``(T, NLL at T=1, NLL at T)``.

    ``validation_nll`` evaluates the model as it is now (with the head scaled), so the fit is right for any head,
    including the landmark model's mirrored test-time augmentation (the surer of two views)."""
    before = validation_nll()
    best_t, best_nll, current = 1.0, before, 1.0
    for t in CANDIDATES:
        scale_head(head, current / t)  # from the current scale to 1/t
        current = float(t)
        nll = validation_nll()
        if nll < best_nll - 1e-9:
            best_t, best_nll = float(t), nll
    scale_head(head, current / best_t)
    return best_t, before, best_nll


__all__ = ["CANDIDATES", "fit_temperature", "scale_head"]
