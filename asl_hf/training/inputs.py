"""What the epochs iterate over: the fastest input path that fits the model and the machine.

Pixel models train from cached frozen features (MobileNetV2 on a CPU: its never-trained blocks run once per augmented
view), from preloaded images (decoded and resized once, augmented per epoch), or from images decoded on the fly.
The landmark model trains from landmarks found once per photo. Each path is chosen here from the :class:`InputSpec`
and the model bundle alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import Dataset

from ..core.errors import AslError
from ..models.preprocessing import build_eval_transform, build_normalise_transform, build_resize_transform
from .feature_cache import DEFAULT_MAX_CACHE_BYTES, compute_features, feature_bytes
from .landmark_data import LandmarkCollate, extract_landmarks, hand_found_rate
from .model_factory import ModelBundle
from .plan import InputSpec
from .preload import fits_in_memory, preload_split
from .transforms import batch_transform, build_tensor_train_transform, build_train_transform, collate

EVAL_SPLITS = ("validation", "test")


@dataclass
class TrainingData:
    """What the epochs iterate over, and which module they train and evaluate on it."""

    train: Dataset
    evals: dict[str, Dataset]
    module: nn.Module
    """``bundle.model``, or (feature cache) the top of the network that reads the cached features."""
    mode: str
    """"feature cache", "preloaded", "streaming" or "landmarks": where the training inputs come from."""
    num_workers: int
    train_collate: Callable = collate
    eval_collate: Callable = collate
    train_weights: torch.Tensor | None = None
    """Per-example sampling weights of ``train`` (``--balance_sources``), or None for a uniform shuffle."""

    def hand_found(self) -> dict[str, list[bool]]:
        """Landmark inputs: which validation/test photos had a hand (the rest are answered with the no-hand label)."""
        return {name: ds.hand_found.tolist() for name, ds in self.evals.items()} if self.mode == "landmarks" else {}


def _use_feature_cache(inputs: InputSpec, bundle: ModelBundle, splits, device: torch.device) -> bool:
    """``auto``: on CPU, when the model has a frozen part with blocks in it and its features fit in memory."""
    if inputs.cache_frozen_features == "never" or bundle.frozen_prefix is None:
        if inputs.cache_frozen_features == "always" and bundle.frozen_prefix is None:
            raise AslError(f"--cache_frozen_features always: {bundle.kind} has no part that every phase keeps frozen")
        return False
    if inputs.cache_frozen_features == "always":
        return True
    if device.type != "cpu":
        return False
    images = len(splits["train"]) * inputs.feature_cache_views + sum(len(splits[name]) for name in EVAL_SPLITS)
    spec = bundle.spec
    return feature_bytes(bundle.frozen_prefix(), (3, spec.height, spec.width), images, 1) <= DEFAULT_MAX_CACHE_BYTES


def _use_preload(inputs: InputSpec, bundle: ModelBundle, splits) -> bool:
    if inputs.preload_images != "auto":
        return inputs.preload_images == "always"
    images = sum(len(splits[name]) for name in ("train", *EVAL_SPLITS))
    return fits_in_memory(images, bundle.spec.height, bundle.spec.width)


def source_weights(source_ids: torch.Tensor) -> torch.Tensor:
    """A sampling weight per example so that each source's examples add up to the same total."""
    _, inverse, counts = torch.unique(source_ids, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse].double()


def _train_sources(split) -> torch.Tensor | None:
    """The training split's source ids (None without a ``source`` column)."""
    return torch.as_tensor(split["source"]) if "source" in split.features else None


def with_balance(data: TrainingData, inputs: InputSpec, sources: torch.Tensor | None) -> TrainingData:
    """``data`` with per-example weights that balance the sources, when asked for and there is more than one source."""
    if inputs.balance_sources and sources is not None and len(torch.unique(sources)) > 1:
        data.train_weights = source_weights(sources)
    return data


def landmark_data(inputs: InputSpec, bundle: ModelBundle, splits, accelerator: Accelerator) -> TrainingData:
    """Landmarks of every photo, found once by the model's processor; training keeps the photos with a hand."""
    with accelerator.main_process_first():  # the first process fills the datasets cache, the others read it
        sets = {name: extract_landmarks(splits[name], bundle.processor, f"Finding hands ({name})") for name in ("train", *EVAL_SPLITS)}
    rates = ", ".join(f"{name} {hand_found_rate(data):.1%}" for name, data in sets.items())
    accelerator.print(f"Hands found: {rates} of the photos (training uses only those; evaluation counts the rest as no-hand)")
    if not sets["train"].hand_found.any():
        raise AslError("the hand detector found no hand in any training photo: the landmark model needs photos of hands")
    data = TrainingData(sets["train"].with_hands(), {name: sets[name] for name in EVAL_SPLITS}, bundle.model, "landmarks", 0,
                        train_collate=LandmarkCollate(inputs.landmark_augmentation), eval_collate=LandmarkCollate())
    sources = _train_sources(splits["train"])
    return with_balance(data, inputs, None if sources is None else sources[sets["train"].hand_found])


def cached_feature_data(inputs: InputSpec, bundle: ModelBundle, splits, device: torch.device, show: bool) -> TrainingData:
    """The frozen prefix run once per augmented view (training) or once (evaluation); the top of the network trains."""
    prefix = bundle.frozen_prefix().to(device)
    workers = inputs.num_workers or 0

    def cache(split, transform, views, dtype, desc):
        return compute_features(prefix, split.with_transform(batch_transform(transform)), views, inputs.train_batch_size,
                                device, dtype, desc, show, workers)

    train = cache(splits["train"], build_train_transform(bundle.spec, inputs.augmentation), inputs.feature_cache_views,
                  torch.float16, f"Caching frozen features ({inputs.feature_cache_views} augmented views)")
    evals = {name: cache(splits[name], build_eval_transform(bundle.spec), 1, torch.float32, f"Caching {name} features") for name in EVAL_SPLITS}
    return TrainingData(train, evals, bundle.top_of_network(), "feature cache", 0)


def preloaded_data(inputs: InputSpec, bundle: ModelBundle, splits, show: bool) -> TrainingData:
    """Every image decoded and resized once into memory; augmentation runs on the small tensors per epoch."""
    resize, normalise = build_resize_transform(bundle.spec), build_normalise_transform(bundle.spec)
    train = preload_split(splits["train"], resize, build_tensor_train_transform(bundle.spec, inputs.augmentation), "Preloading train", show)
    evals = {name: preload_split(splits[name], resize, normalise, f"Preloading {name}", show) for name in EVAL_SPLITS}
    return TrainingData(train, evals, bundle.model, "preloaded", 0)


def streaming_data(inputs: InputSpec, bundle: ModelBundle, splits) -> TrainingData:
    """Images decoded and transformed by DataLoader workers every epoch (data sets too large for memory)."""
    evals = {name: splits[name].with_transform(batch_transform(build_eval_transform(bundle.spec))) for name in EVAL_SPLITS}
    train = splits["train"].with_transform(batch_transform(build_train_transform(bundle.spec, inputs.augmentation)))
    return TrainingData(train, evals, bundle.model, "streaming", 2 if inputs.num_workers is None else inputs.num_workers)


def build_training_data(inputs: InputSpec, bundle: ModelBundle, splits, accelerator: Accelerator, show_progress: bool = True) -> TrainingData:
    """The fastest input path that fits: landmarks, cached frozen features, preloaded images, or decoding on the fly."""
    if bundle.kind == "landmarks":
        return landmark_data(inputs, bundle, splits, accelerator)
    show = accelerator.is_local_main_process and show_progress
    if _use_feature_cache(inputs, bundle, splits, accelerator.device):
        data = cached_feature_data(inputs, bundle, splits, accelerator.device, show)
    elif _use_preload(inputs, bundle, splits):
        data = preloaded_data(inputs, bundle, splits, show)
    else:
        data = streaming_data(inputs, bundle, splits)
    return with_balance(data, inputs, _train_sources(splits["train"]))  # every path keeps the split's order


__all__ = ["TrainingData", "build_training_data"]
