"""The data job: raw folders or a Hub id -> checked, split, saved ``DatasetDict`` with card and report."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets

from ..core.errors import DataError, OutputExistsError
from .card import build_dataset_card
from .loading import load_hub_dataset, load_image_folders
from .scan import SourcesReport
from .splitting import DEFAULT_GROUP_SIZE, source_class_counts, source_split_counts, split_dataset

TrainDirs = str | os.PathLike | Sequence[str | os.PathLike] | None
"""One raw folder or several (``--train_dir A B ...``)."""


@dataclass
class PreparedData:
    splits: datasets.DatasetDict
    report: SourcesReport | None
    card: object
    seconds: float
    num_images: int


@contextlib.contextmanager
def atomic_output_dir(output_dir: str | os.PathLike, overwrite: bool = False):
    """Yield a staging folder that becomes ``output_dir`` only if the block finishes.

    An interrupted or failed run leaves ``output_dir`` as it was (absent, or the previous results).
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())) and not overwrite:
        raise OutputExistsError(f"{output_dir}: already exists and is not empty (pass --overwrite_output_dir to replace it)")
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.tmp-", dir=output_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the result should look like any folder
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = None
    if output_dir.exists():
        previous = output_dir.with_name(f".{output_dir.name}.old-{os.getpid()}")
        output_dir.rename(previous)
    staging.rename(output_dir)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True) if previous.is_dir() else previous.unlink()


def as_train_dirs(train_dir: TrainDirs) -> list[str]:
    """``train_dir`` as a list of folders (one path, several, or none)."""
    if not train_dir:
        return []
    return [str(train_dir)] if isinstance(train_dir, (str, os.PathLike)) else [str(path) for path in train_dir]


def load_and_split(
    train_dir: TrainDirs = None,
    dataset_name: str | None = None,
    seed: int = 42,
    split_by: str = "random",
    group_size: int = DEFAULT_GROUP_SIZE,
    strict: bool = False,
    num_proc: int | None = None,
    revision: str | None = None,
    token: str | None = None,
) -> tuple[datasets.DatasetDict, SourcesReport | None]:
    """Load raw folders (scan, skip bad files, one data set with a ``source`` column, split stratified by class within
    each source) or a Hub data set (split only if it has no splits)."""
    train_dirs = as_train_dirs(train_dir)
    if bool(train_dirs) == bool(dataset_name):
        raise DataError("give exactly one of --train_dir (raw image folders) or --dataset_name (a Hub data set id)")
    if train_dirs:
        dataset, report = load_image_folders(train_dirs, strict=strict, num_proc=num_proc)
        return split_dataset(dataset, seed=seed, split_by=split_by, group_size=group_size), report
    loaded = load_hub_dataset(dataset_name, revision=revision, token=token)
    if {"train", "validation", "test"} <= set(loaded):
        return datasets.DatasetDict({s: loaded[s] for s in ("train", "validation", "test")}), None
    if set(loaded) != {"train"}:
        raise DataError(f"{dataset_name}: expected splits train/validation/test or a single train split, found {sorted(loaded)}")
    return split_dataset(loaded["train"], seed=seed, split_by=split_by, group_size=group_size), None


def split_info(
    splits: datasets.DatasetDict,
    report: SourcesReport | None,
    train_dirs: list[str],
    dataset_name: str | None,
    seed: int,
    split_by: str,
    group_size: int,
    synthetic: bool,
) -> dict:
    """What ``split_info.json`` records: how the split was made and, per source, its folder and counts.
    ``train_dir`` stays one path (the first folder) for readers that take it as one; ``train_dirs`` lists them all."""
    folders = {name: source.root for name, source in report.sources.items()} if report else {}
    return {
        "train_dir": train_dirs[0] if train_dirs else None,
        "train_dirs": train_dirs or None,
        "dataset_name": dataset_name,
        "seed": seed,
        "split_by": split_by,
        "group_size": group_size if split_by == "group" else None,
        "synthetic": synthetic,
        **{f"num_{split}": len(ds) for split, ds in splits.items()},
        "sources": describe_sources(splits, folders),
    }


def describe_sources(splits: datasets.DatasetDict, folders: dict[str, str] | None = None) -> dict:
    """Per source: its folder (when known), images in all and per split, and images per class (non-zero only)."""
    classes = source_class_counts(splits)
    return {
        name: {"dir": (folders or {}).get(name), "num_images": sum(per_split.values()),
               **{f"num_{split}": count for split, count in per_split.items()},
               "class_counts": {label: count for label, count in classes[name].items() if count}}
        for name, per_split in source_split_counts(splits).items()
    }


def prepare_dataset(
    output_dir: str | os.PathLike,
    train_dir: TrainDirs = None,
    dataset_name: str | None = None,
    seed: int = 42,
    split_by: str = "random",
    group_size: int = DEFAULT_GROUP_SIZE,
    strict: bool = False,
    num_proc: int | None = None,
    overwrite_output_dir: bool = False,
    synthetic: bool = False,
) -> PreparedData:
    """Load, check, split and save to ``output_dir`` (``save_to_disk`` + README.md card + data report + split_info.json).
    ``train_dir``: one raw folder or several (each becomes a ``source``)."""
    start = time.perf_counter()
    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()) and not overwrite_output_dir:  # fail before the slow part
        raise OutputExistsError(f"{output_dir}: already exists and is not empty (pass --overwrite_output_dir to replace it)")
    train_dirs = as_train_dirs(train_dir)
    splits, report = load_and_split(train_dirs, dataset_name, seed, split_by, group_size, strict, num_proc)
    card = build_dataset_card(
        splits,
        source=dataset_name or ", ".join(train_dirs),
        seed=seed,
        split_by=split_by,
        group_size=group_size,
        synthetic=synthetic,
        num_skipped=len(report.skipped) if report else 0,
        source_dirs={name: source.root for name, source in report.sources.items()} if report else None,
    )
    with atomic_output_dir(output_dir, overwrite=overwrite_output_dir) as staging:
        splits.save_to_disk(str(staging))
        card.save(staging / "README.md")
        if report is not None:
            report.write(staging)
        info = split_info(splits, report, train_dirs, dataset_name, seed, split_by, group_size, synthetic)
        (staging / "split_info.json").write_text(json.dumps(info, indent=2) + "\n")
    num_images = sum(len(ds) for ds in splits.values())
    return PreparedData(splits, report, card, time.perf_counter() - start, num_images)
