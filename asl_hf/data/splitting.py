"""Split one labelled data set into train/validation/test, the same way on every run and machine.

``random``: stratified by label: per class, a seeded shuffle and exact 80/10/10 counts. (``datasets``'
``train_test_split(stratify_by_column=...)`` needs two stages and fails below ~10 images a class.)
``group``: the public photos are frames of videos, so neighbouring file numbers are near copies.
Files are grouped in blocks of ``group_size`` consecutive numbers per class, and whole blocks go to
one split, so the test set holds no near copy of a training image. This gives the honest number.
"""

from __future__ import annotations

import re
from collections import defaultdict

import datasets
import numpy as np

from ..core.errors import DataError
from .loading import file_names

SPLIT_NAMES = ("train", "validation", "test")
SPLIT_BY_CHOICES = ("random", "group")
DEFAULT_GROUP_SIZE = 300
"""Frame numbers per block. The public videos change scene (light, distance, position) over ~100 frames (about 5 photos
of the sample, which keeps every 20th frame); 300-frame blocks keep whole scenes together, so only the photos at a
block edge have a near copy in another split. Each class of the full data set (3,000 frames) makes 10 blocks: 8/1/1."""
_TRAILING_NUMBER = re.compile(r"(\d+)(?=\D*$)")


def _check_fractions(validation_fraction: float, test_fraction: float) -> None:
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1 and validation_fraction + test_fraction < 1):
        raise DataError(f"validation and test fractions must be in (0, 1) and sum below 1, got {validation_fraction} and {test_fraction}")


def frame_number(file_name: str) -> int | None:
    """The last number in a file name (``A123.jpg`` -> 123), the frame index in the public data set."""
    match = _TRAILING_NUMBER.search(file_name.rsplit(".", 1)[0])
    return int(match.group(1)) if match else None


def _assign_groups(
    dataset: datasets.Dataset,
    groups: dict[int, list[list[int]]],
    seed: int,
    validation_fraction: float,
    test_fraction: float,
    unit: str,
) -> datasets.DatasetDict:
    """Per class, shuffle its groups (seeded) and fill test, then validation, then train, whole groups at a time."""
    rng = np.random.default_rng(seed)
    assigned: dict[str, list[int]] = {split: [] for split in SPLIT_NAMES}
    for label in sorted(groups):
        blocks = groups[label]
        if len(blocks) < 3:
            raise DataError(
                f"class {dataset.features['label'].int2str(label)}: only {len(blocks)} {unit}; "
                f"an 80/10/10 split needs at least 3{' (use a smaller --group_size or --split_by random)' if unit != 'images' else ''}"
            )
        total = sum(len(block) for block in blocks)
        targets = {"test": max(1, round(test_fraction * total)), "validation": max(1, round(validation_fraction * total))}
        counts = {"test": 0, "validation": 0}
        for position in rng.permutation(len(blocks)):
            split = next((s for s in ("test", "validation") if counts[s] < targets[s]), "train")
            if split != "train":
                counts[split] += len(blocks[position])
            assigned[split] += blocks[position]
    return datasets.DatasetDict({split: dataset.select(sorted(assigned[split])) for split in SPLIT_NAMES})


def stratified_split(dataset: datasets.Dataset, seed: int, validation_fraction: float = 0.1, test_fraction: float = 0.1) -> datasets.DatasetDict:
    """Stratified random split: per class, a seeded shuffle and exact 80/10/10 counts (at least one image each)."""
    _check_fractions(validation_fraction, test_fraction)
    groups: dict[int, list[list[int]]] = defaultdict(list)
    for index, label in enumerate(dataset["label"]):
        groups[label].append([index])
    return _assign_groups(dataset, groups, seed, validation_fraction, test_fraction, unit="images")


def group_split(
    dataset: datasets.Dataset,
    seed: int,
    group_size: int = DEFAULT_GROUP_SIZE,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> datasets.DatasetDict:
    """Split by blocks of consecutive frame numbers, per class, so near-duplicate frames stay together."""
    _check_fractions(validation_fraction, test_fraction)
    if group_size < 1:
        raise DataError(f"group_size must be at least 1, got {group_size}")
    by_key: dict[int, dict[object, list[int]]] = defaultdict(lambda: defaultdict(list))
    for index, (name, label) in enumerate(zip(file_names(dataset), dataset["label"])):
        number = frame_number(name)
        key = number // group_size if number is not None else f"name:{name}"
        by_key[label][key].append(index)
    groups = {label: [keys[key] for key in sorted(keys, key=str)] for label, keys in by_key.items()}
    return _assign_groups(dataset, groups, seed, validation_fraction, test_fraction, unit=f"block(s) of {group_size} frames")


def split_dataset(
    dataset: datasets.Dataset,
    seed: int = 42,
    split_by: str = "random",
    group_size: int = DEFAULT_GROUP_SIZE,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> datasets.DatasetDict:
    """80/10/10 (by default) train/validation/test split, stratified by label, seeded."""
    if split_by == "random":
        return stratified_split(dataset, seed, validation_fraction, test_fraction)
    if split_by == "group":
        return group_split(dataset, seed, group_size, validation_fraction, test_fraction)
    raise DataError(f"--split_by must be one of {SPLIT_BY_CHOICES}, got {split_by!r}")


def split_table(splits: datasets.DatasetDict) -> tuple[list[str], dict[str, dict[str, int]]]:
    """Counts per class and split: ``(class names present, {split: {class: count}})``."""
    names = splits[next(iter(splits))].features["label"].names
    counts = {split: dict.fromkeys(names, 0) for split in splits}
    for split, ds in splits.items():
        for label, count in zip(*np.unique(np.asarray(ds["label"]), return_counts=True)):
            counts[split][names[label]] = int(count)
    present = [name for name in names if any(counts[split][name] for split in splits)]
    return present, counts


def format_split_table(splits: datasets.DatasetDict) -> str:
    """A markdown table of images per class and split, with totals."""
    present, counts = split_table(splits)
    header = "| class | " + " | ".join(splits) + " | total |"
    rule = "|---|" + "---:|" * (len(splits) + 1)
    rows = [
        f"| {name} | " + " | ".join(str(counts[s][name]) for s in splits) + f" | {sum(counts[s][name] for s in splits)} |"
        for name in present
    ]
    totals = [len(splits[s]) for s in splits]
    rows.append("| **total** | " + " | ".join(str(t) for t in totals) + f" | {sum(totals)} |")
    return "\n".join([header, rule, *rows])
