"""Training data of the landmark model: each photo's hand landmarks, found once, then augmented in 3-D per batch.

MediaPipe runs once per photo (``datasets.Dataset.map`` over the split, in parallel, cached by ``datasets`` where the
split lives on disk); the epochs then train on small tensors. Training keeps the photos where a hand was found;
validation and test keep every photo, so a photo without a hand counts (the model answers the no-hand label).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset


@dataclass(frozen=True)
class LandmarkAugmentation:
    """Random 3-D rotation (uniform, +-``rotation`` degrees about each axis), per-axis scale (+-``zoom``, normal
    sigma) and per-point noise (``noise`` of the hand's size), then re-normalised like the processor's output."""

    rotation: float = 30.0
    zoom: float = 0.1
    noise: float = 0.02

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        batch = points.shape[0]
        angles = (torch.rand(batch, 3) * 2 - 1) * math.radians(self.rotation)
        points = points @ _rotation_matrices(angles).transpose(1, 2)
        points = points * (1 + self.zoom * torch.randn(batch, 1, 3)) + self.noise * torch.randn_like(points)
        return normalise_points(points)


def normalise_points(points: torch.Tensor) -> torch.Tensor:
    """Wrist (point 0) at the origin, largest wrist-to-point distance in the image plane 1 (as the processor does)."""
    points = points - points[:, :1]
    scale = points[..., :2].norm(dim=-1).amax(1).clamp_min(1e-6)
    return points / scale.view(-1, 1, 1)


def _rotation_matrices(angles: torch.Tensor) -> torch.Tensor:
    """``(batch, 3, 3)`` rotations Rx @ Ry @ Rz for ``(batch, 3)`` angles in radians."""
    cos, sin = angles.cos(), angles.sin()
    one, zero = torch.ones_like(cos[:, 0]), torch.zeros_like(cos[:, 0])

    def matrix(rows):
        return torch.stack([torch.stack(row, -1) for row in rows], -2)

    rx = matrix([[one, zero, zero], [zero, cos[:, 0], -sin[:, 0]], [zero, sin[:, 0], cos[:, 0]]])
    ry = matrix([[cos[:, 1], zero, sin[:, 1]], [zero, one, zero], [-sin[:, 1], zero, cos[:, 1]]])
    rz = matrix([[cos[:, 2], -sin[:, 2], zero], [sin[:, 2], cos[:, 2], zero], [zero, zero, one]])
    return rx @ ry @ rz


class LandmarkSet(Dataset):
    """Landmarks, hand-found flags and labels of one split, in memory."""

    def __init__(self, landmarks: torch.Tensor, hand_found: torch.Tensor, labels: torch.Tensor):
        self.landmarks, self.hand_found, self.labels = landmarks, hand_found, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return {"landmarks": self.landmarks[index], "hand_found": self.hand_found[index], "labels": self.labels[index]}

    def with_hands(self) -> LandmarkSet:
        keep = self.hand_found
        return LandmarkSet(self.landmarks[keep], self.hand_found[keep], self.labels[keep])


class LandmarkCollate:
    """Stack a batch and (training) augment its landmarks. A class, so spawned DataLoader workers can pickle it."""

    def __init__(self, augmentation: LandmarkAugmentation | None = None):
        self.augmentation = augmentation

    def __call__(self, examples: Sequence[dict]) -> dict[str, torch.Tensor]:
        batch = {key: torch.stack([example[key] for example in examples]) for key in ("landmarks", "hand_found", "labels")}
        if self.augmentation is not None:
            batch["landmarks"] = self.augmentation(batch["landmarks"])
        return batch


class _Extract:
    """``datasets.map`` function: photos -> landmarks + hand_found (picklable for ``num_proc``)."""

    def __init__(self, processor):
        self.processor = processor

    def __call__(self, batch: dict) -> dict:
        features = self.processor(batch["image"])
        return {"landmarks": features["landmarks"].tolist(), "hand_found": features["hand_found"].tolist()}


def extract_landmarks(split, processor, desc: str, num_proc: int | None = None) -> LandmarkSet:
    """Run the processor's hand detector over a split of photos; ``num_proc`` processes (default: all cores)."""
    num_proc = num_proc or min(os.cpu_count() or 1, max(1, len(split) // 64))
    mapped = split.map(_Extract(processor), batched=True, batch_size=32, num_proc=num_proc if num_proc > 1 else None,
                       remove_columns=[c for c in split.column_names if c != "label"], desc=desc)
    columns = mapped.with_format("torch")[:]
    return LandmarkSet(columns["landmarks"].float().reshape(-1, 21, 3), columns["hand_found"].bool(), columns["label"].long())


def hand_found_rate(data: LandmarkSet) -> float:
    return float(data.hand_found.float().mean()) if len(data) else 0.0


__all__ = ["LandmarkAugmentation", "LandmarkCollate", "LandmarkSet", "extract_landmarks", "hand_found_rate", "normalise_points"]
