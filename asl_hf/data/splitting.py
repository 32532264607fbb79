"""Split one labelled data set into train/validation/test, the same way on every run and machine.

Both ways stratify by class within each source (the ``source`` column, when the data set has one), so every source
appears in every split in proportion, and a source that is added never changes how the others are split.

``random``: per source and class, a seeded shuffle and exact 80/10/10 counts. (``datasets``'
``train_test_split(stratify_by_column=...)`` needs two stages and fails below ~10 images a class.)
``group``: photos are often frames of videos or bursts, so neighbouring photos are near copies. Files are grouped
by name (:func:`group_key`) per source and class, and whole groups go to one split, so the test set holds no near
copy of a training image. This gives the honest number.
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
_FRAME_NAME = re.compile(r"[A-Za-z]*[_-]?(\d+)")
"""A whole file stem that is a number after an optional word (``A1005``, ``space_17``, ``0042``): a video frame."""


def _check_fractions(validation_fraction: float, test_fraction: float) -> None:
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1 and validation_fraction + test_fraction < 1):
        raise DataError(f"validation and test fractions must be in (0, 1) and sum below 1, got {validation_fraction} and {test_fraction}")


def frame_number(file_name: str) -> int | None:
    """The last number in a file name (``A123.jpg`` -> 123), the frame index in the public data set."""
    match = _TRAILING_NUMBER.search(file_name.rsplit(".", 1)[0])
    return int(match.group(1)) if match else None


def group_key(file_name: str, group_size: int = DEFAULT_GROUP_SIZE) -> int | str:
    """The group of near copies a file belongs to, from its name alone (the rule works without knowing the data set).

    - A stem that is a number after an optional word (``A1005.jpg``, ``space_17.png``, ``0042.png``) is a video frame:
      the group is its block of ``group_size`` frame numbers (``A1005.jpg`` -> block 3 with 300).
    - Any other stem: the stem with its last number replaced by ``#``: that number is the frame or shot, the rest
      names the scene (``hand1_a_bot_seg_3_cropped.jpeg`` -> ``hand1_a_bot_seg_#_cropped``: person, letter, light).
    - A stem without a number is a group of its own (with any same-stem file of another type).
    """
    stem = file_name.rsplit(".", 1)[0]
    frame = _FRAME_NAME.fullmatch(stem)
    if frame:
        return int(frame.group(1)) // group_size
    return _TRAILING_NUMBER.sub("#", stem, count=1)


def _strata(dataset: datasets.Dataset) -> list[tuple[int, int]]:
    """``(source, label)`` of every row: what the splits stratify by (source 0 throughout without a ``source`` column)."""
    labels = dataset["label"]
    sources = dataset["source"] if "source" in dataset.column_names else [0] * len(dataset)
    return list(zip(sources, labels))


def _stratum_name(dataset: datasets.Dataset, stratum: tuple[int, int]) -> str:
    """``class A``, or ``class A of source other_signers`` when there are several sources."""
    source, label = stratum
    name = f"class {dataset.features['label'].int2str(label)}"
    source_feature = dataset.features.get("source")
    if isinstance(source_feature, datasets.ClassLabel) and source_feature.num_classes > 1:
        name += f" of source {source_feature.int2str(source)}"
    return name


def _assign_groups(
    dataset: datasets.Dataset,
    groups: dict[tuple[int, int], list[list[int]]],
    seed: int,
    validation_fraction: float,
    test_fraction: float,
    unit: str,
) -> datasets.DatasetDict:
    """Per source and class (in id order), shuffle its groups (seeded) and fill test, then validation, then train,
    whole groups at a time. One generator for all, in that order: a source appended later leaves the earlier ones'
    splits as they were, and a single source splits exactly as before sources existed."""
    rng = np.random.default_rng(seed)
    assigned: dict[str, list[int]] = {split: [] for split in SPLIT_NAMES}
    for stratum in sorted(groups):
        blocks = groups[stratum]
        if len(blocks) < 3:
            raise DataError(
                f"{_stratum_name(dataset, stratum)}: only {len(blocks)} {unit}; "
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
    """Stratified random split: per source and class, a seeded shuffle and exact 80/10/10 counts (at least one image each)."""
    _check_fractions(validation_fraction, test_fraction)
    groups: dict[tuple[int, int], list[list[int]]] = defaultdict(list)
    for index, stratum in enumerate(_strata(dataset)):
        groups[stratum].append([index])
    return _assign_groups(dataset, groups, seed, validation_fraction, test_fraction, unit="images")


def find_groups(dataset: datasets.Dataset, group_size: int = DEFAULT_GROUP_SIZE) -> dict[tuple[int, int], dict[int | str, list[int]]]:
    """``{(source, label): {group key: row indices}}`` by :func:`group_key` (groups never cross a source or class)."""
    by_key: dict[tuple[int, int], dict[int | str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for index, (name, stratum) in enumerate(zip(file_names(dataset), _strata(dataset))):
        by_key[stratum][group_key(name, group_size)].append(index)
    return {stratum: dict(keys) for stratum, keys in by_key.items()}


def group_split(
    dataset: datasets.Dataset,
    seed: int,
    group_size: int = DEFAULT_GROUP_SIZE,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> datasets.DatasetDict:
    """Split by name groups (:func:`group_key`), per source and class, so near-duplicate photos stay together."""
    _check_fractions(validation_fraction, test_fraction)
    if group_size < 1:
        raise DataError(f"group_size must be at least 1, got {group_size}")
    # Groups in the order of their keys as text: the order the block split has always used, so it stays reproducible.
    groups = {stratum: [keys[key] for key in sorted(keys, key=str)] for stratum, keys in find_groups(dataset, group_size).items()}
    return _assign_groups(dataset, groups, seed, validation_fraction, test_fraction, unit=f"group(s) (frame blocks of {group_size} or name groups)")


def split_dataset(
    dataset: datasets.Dataset,
    seed: int = 42,
    split_by: str = "random",
    group_size: int = DEFAULT_GROUP_SIZE,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> datasets.DatasetDict:
    """80/10/10 (by default) train/validation/test split, stratified by class within each source, seeded."""
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


def source_names(splits: datasets.DatasetDict) -> list[str]:
    """The sources of a data set with a ``source`` ClassLabel column (``[]`` without one, e.g. an older Hub data set)."""
    feature = splits[next(iter(splits))].features.get("source")
    return list(feature.names) if isinstance(feature, datasets.ClassLabel) else []


def source_split_counts(splits: datasets.DatasetDict) -> dict[str, dict[str, int]]:
    """Images per source and split: ``{source: {split: count}}``."""
    names = source_names(splits)
    counts = {name: dict.fromkeys(splits, 0) for name in names}
    for split, ds in splits.items():
        if len(ds):
            for source, count in zip(*np.unique(np.asarray(ds["source"]), return_counts=True)):
                counts[names[source]][split] = int(count)
    return counts


def source_class_counts(splits: datasets.DatasetDict) -> dict[str, dict[str, int]]:
    """Images per source and class over all splits: ``{source: {class: count}}`` (classes in label order, zeros kept)."""
    names, classes = source_names(splits), splits[next(iter(splits))].features["label"].names
    counts = np.zeros((len(names), len(classes)), dtype=int)
    for ds in splits.values():
        if len(ds):
            np.add.at(counts, (np.asarray(ds["source"]), np.asarray(ds["label"])), 1)
    return {source: dict(zip(classes, map(int, row))) for source, row in zip(names, counts)}


def count_groups(splits: datasets.DatasetDict, group_size: int = DEFAULT_GROUP_SIZE) -> dict[str, int]:
    """Name groups (:func:`group_key`) per source over all splits together (``{"all": n}`` without sources)."""
    names = source_names(splits) or ["all"]
    totals = dict.fromkeys(names, 0)
    for (source, _), keys in find_groups(datasets.concatenate_datasets(list(splits.values())), group_size).items():
        totals[names[source]] += len(keys)
    return totals


def format_source_table(splits: datasets.DatasetDict, groups: dict[str, int] | None = None) -> str:
    """A markdown table of images per source and split (and groups per source when given), with totals."""
    counts = source_split_counts(splits)
    header = "| source | " + " | ".join(splits) + " | total |" + (" groups |" if groups else "")
    rule = "|---|" + "---:|" * (len(splits) + 1 + bool(groups))
    rows = [
        f"| {source} | " + " | ".join(str(per_split[s]) for s in splits) + f" | {sum(per_split.values())} |"
        + (f" {groups.get(source, 0)} |" if groups else "")
        for source, per_split in counts.items()
    ]
    totals = [len(splits[s]) for s in splits]
    rows.append("| **total** | " + " | ".join(str(t) for t in totals) + f" | {sum(totals)} |" + (f" {sum(groups.values())} |" if groups else ""))
    return "\n".join([header, rule, *rows])


def format_source_class_table(splits: datasets.DatasetDict) -> str:
    """A markdown table of images per class (rows) and source (columns), all splits together, with totals."""
    counts = source_class_counts(splits)
    classes = [name for name in splits[next(iter(splits))].features["label"].names if any(c[name] for c in counts.values())]
    header = "| class | " + " | ".join(counts) + " | total |"
    rule = "|---|" + "---:|" * (len(counts) + 1)
    rows = [
        f"| {name} | " + " | ".join(str(c[name]) for c in counts.values()) + f" | {sum(c[name] for c in counts.values())} |"
        for name in classes
    ]
    totals = [sum(c.values()) for c in counts.values()]
    rows.append("| **total** | " + " | ".join(map(str, totals)) + f" | {sum(totals)} |")
    return "\n".join([header, rule, *rows])
