"""Decode and resize every image once, then train from memory.

On a 2-core CPU, decoding a 200x200 JPEG and resizing it costs about as much as the CNN's whole training step
on that image, and DataLoader worker processes compete with the model's own threads for the same two cores.
Images already at the model's input size, as uint8 tensors, take 12 KB each at 64 px (4,350 photos: 53 MB), and
augmentation then runs in the main process on the small tensor. Big data sets or big inputs that would not fit
stay on the streaming path (``Dataset.with_transform`` and worker processes).
"""

from __future__ import annotations

from collections.abc import Callable

import datasets
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..core.images import to_rgb

DEFAULT_MAX_PRELOAD_BYTES = 4 * 1024**3
"""``--preload_images auto`` preloads a split set only when its uint8 tensors take at most this much memory."""


def fits_in_memory(num_images: int, height: int, width: int, limit: int = DEFAULT_MAX_PRELOAD_BYTES) -> bool:
    """Whether ``num_images`` uint8 RGB images of ``height`` x ``width`` take at most ``limit`` bytes (``--preload_images auto``)."""
    return num_images * 3 * height * width <= limit


class InMemoryImages(Dataset):
    """uint8 images ``(N, 3, H, W)`` and labels; ``transform`` (augmentation + normalisation) runs per item."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Callable[[torch.Tensor], torch.Tensor]):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return {"pixel_values": self.transform(self.images[index]), "labels": int(self.labels[index])}

    def with_transform(self, transform: Callable[[torch.Tensor], torch.Tensor]) -> InMemoryImages:
        """The same images with another per-item transform (no copy)."""
        return InMemoryImages(self.images, self.labels, transform)


def preload_split(
    dataset: datasets.Dataset,
    resize: Callable,
    transform: Callable[[torch.Tensor], torch.Tensor],
    desc: str = "Preloading",
    show_progress: bool = True,
) -> InMemoryImages:
    """Decode, convert to RGB and resize every image of ``dataset`` once (``resize``: PIL -> uint8 tensor)."""
    images = dataset.select_columns(["image"])
    tensors = [resize(to_rgb(row["image"])) for row in tqdm(images, desc=desc, leave=False, disable=not show_progress)]
    labels = torch.tensor(dataset["label"], dtype=torch.long)
    return InMemoryImages(torch.stack(tensors), labels, transform)
