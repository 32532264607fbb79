"""The train/validation/test splits a run trains on, and the record of where they came from."""

from __future__ import annotations

import json
from pathlib import Path

from accelerate import Accelerator

from ..core.errors import AslError
from ..data import ensure_default_data, load_and_split, load_prepared_dataset
from ..data.prepare import describe_sources
from .plan import DataSpec

SPLIT_INFO_KEYS = ("split_by", "group_size", "seed", "train_dir", "train_dirs", "synthetic", "sources")
"""What ``prepare_data.py`` recorded about how a prepared folder was split (``split_info.json``)."""


def _read_split_info(dataset_dir: Path) -> dict:
    path = dataset_dir / "split_info.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _truncated(splits, spec: DataSpec):
    """``--max_train_samples`` / ``--max_eval_samples``: a seeded random subset of each split (quick runs)."""
    for names, limit in ((("train",), spec.max_train_samples), (("validation", "test"), spec.max_eval_samples)):
        for name in names if limit else ():
            splits[name] = splits[name].shuffle(seed=spec.seed).select(range(min(limit, len(splits[name]))))
    return splits


def load_splits(spec: DataSpec, accelerator: Accelerator, command: str = ""):
    """The splits from a prepared folder, raw folders (split here), a Hub data set or the embedded data, and the
    ``dataset_info.json`` record of them."""
    with accelerator.main_process_first():
        if spec.dataset_dir:
            splits = load_prepared_dataset(spec.dataset_dir)
            source = {"dataset_dir": spec.dataset_dir}
        else:
            train_dirs, group_size = list(spec.train_dirs), spec.group_size
            if not (train_dirs or spec.dataset_name):
                train_dirs, group_size = [str(ensure_default_data())], min(spec.group_size, 10)
            splits, report = load_and_split(train_dirs or None, spec.dataset_name, spec.seed, spec.split_by, group_size, token=spec.token)
            source = {"train_dir": train_dirs[0] if train_dirs else None, "train_dirs": train_dirs, "dataset_name": spec.dataset_name}
            if report is not None:
                source["sources"] = {name: {"dir": scan.root} for name, scan in report.sources.items()}
    missing = {"train", "validation", "test"} - set(splits)
    if missing:
        raise AslError(f"the data set has no {sorted(missing)} split(s); prepare it with scripts/prepare_data.py")
    splits = _truncated(splits, spec)
    info = {**source, "dataset_name": spec.dataset_name, "split_by": spec.split_by, "seed": spec.seed, "command": command}
    if spec.dataset_dir:  # the split was made by prepare_data.py: record how, not this run's (unused) split flags
        made = _read_split_info(Path(spec.dataset_dir))
        info.update({key: made[key] for key in SPLIT_INFO_KEYS if key in made})
    info.update({f"num_{name}": len(splits[name]) for name in ("train", "validation", "test")})
    folders = {name: source.get("dir") for name, source in (info.get("sources") or {}).items()}
    if "source" in splits["train"].features:
        info["sources"] = describe_sources(splits, folders)
    return splits, info


__all__ = ["load_splits"]
