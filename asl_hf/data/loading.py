"""Turn raw folders, a Hub data set or a prepared folder into ``datasets`` objects with fixed labels.

Every path ends in the same features: ``image`` (RGB) and ``label`` (``ClassLabel`` with the 29
names in the public data set's order), so a label id means the same letter everywhere. Raw folders
loaded together add ``source`` (a ``ClassLabel`` naming the folder each image came from).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import datasets
from PIL import Image

from ..core.constants import CLASS_NAMES
from ..core.errors import DataError
from ..core.images import to_rgb
from .scan import ScanReport, SourcesReport, check_class_folders, resolve_nested_root, scan_image_folder

FEATURES = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=CLASS_NAMES)})


def _reencode_as_rgb(example: dict, convert: set[str]) -> dict:
    """Store images that are not plain upright RGB as RGB PNG bytes (lossless); keep the rest as they are."""
    image = example["image"]
    if image["path"] in convert:
        with Image.open(image["path"]) as raw:
            buffer = io.BytesIO()
            to_rgb(raw).save(buffer, format="PNG")
        example["image"] = {"path": Path(image["path"]).with_suffix(".png").name, "bytes": buffer.getvalue()}
    return example


def load_image_folder(
    root: str | os.PathLike,
    strict: bool = False,
    num_proc: int | None = None,
    cache_dir: str | None = None,
) -> tuple[datasets.Dataset, ScanReport]:
    """Scan ``root`` and load its usable images as a ``datasets`` imagefolder (one ``train`` split).

    Bad files never reach the data set: they are listed in the returned report (or raise with ``strict``). A subfolder
    that is not one of the 29 classes raises :class:`DataError` before anything is scanned (:func:`check_class_folders`).
    """
    check_class_folders(resolve_nested_root(root, announce=False))
    report = scan_image_folder(root, strict=strict, num_proc=num_proc)
    files = [image.path for image in report.images]
    dataset = datasets.load_dataset("imagefolder", data_files={"train": files}, features=FEATURES, split="train", cache_dir=cache_dir)
    convert = {image.path for image in report.images if image.needs_conversion}
    if convert:
        dataset = dataset.cast_column("image", datasets.Image(decode=False))
        dataset = dataset.map(_reencode_as_rgb, fn_kwargs={"convert": convert}, desc="Converting to RGB")
        dataset = dataset.cast_column("image", datasets.Image())
    return dataset, report


def name_sources(roots: Sequence[str | os.PathLike]) -> dict[str, Path]:
    """``{source name: folder to read}`` in the given order, the download's nested layout resolved. A source is named
    after the folder as given (``.../asl_alphabet_train`` -> ``asl_alphabet_train``); a name that is already taken
    gets ``-2``, ``-3``, ... The same folder given twice is an error (its images would count twice)."""
    folders: dict[str, Path] = {}
    given_as: dict[Path, str] = {}
    for root in roots:
        folder = resolve_nested_root(root)
        if not folder.is_dir():
            raise DataError(f"{root}: not a folder (expected <root>/<CLASS>/<image files>)")
        if folder.resolve() in given_as:
            raise DataError(f"{root}: the same folder as {given_as[folder.resolve()]}, given twice")
        given_as[folder.resolve()] = str(root)
        base = Path(os.path.abspath(root)).name or "source"
        name, copy = base, 1
        while name in folders:
            copy += 1
            name = f"{base}-{copy}"
        folders[name] = folder
    return folders


def load_image_folders(
    roots: str | os.PathLike | Sequence[str | os.PathLike],
    strict: bool = False,
    num_proc: int | None = None,
    cache_dir: str | None = None,
) -> tuple[datasets.Dataset, SourcesReport]:
    """Several raw folders (each ``<root>/<CLASS>/...``, any subset of the classes) as ONE data set: each loaded as an
    imagefolder (:func:`load_image_folder`), given a ``source`` column (a ``ClassLabel`` of the folder names, in the
    order given) and concatenated. Every folder's class folders are checked before the first one is scanned."""
    roots = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
    if not roots:
        raise DataError("no raw folder given (expected one or more <root>/<CLASS>/<image files>)")
    folders = name_sources(roots)
    for folder in folders.values():
        check_class_folders(folder)
    source_feature = datasets.ClassLabel(names=list(folders))
    parts, reports = [], {}
    for index, (name, folder) in enumerate(folders.items()):
        dataset, reports[name] = load_image_folder(folder, strict=strict, num_proc=num_proc, cache_dir=cache_dir)
        parts.append(dataset.add_column("source", [index] * len(dataset), feature=source_feature))
    return datasets.concatenate_datasets(parts), SourcesReport.combine(reports)


def file_names(dataset: datasets.Dataset) -> list[str]:
    """The original file name of every row (without decoding the images)."""
    raw = dataset.cast_column("image", datasets.Image(decode=False))
    return [Path(item["path"] or "").name for item in raw["image"]]


def _check_labels(dataset: datasets.Dataset, source: str) -> datasets.Dataset:
    label = dataset.features.get("label")
    if "image" not in dataset.features or label is None:
        raise DataError(f"{source}: expected columns 'image' and 'label', found {list(dataset.features)}")
    if not isinstance(label, datasets.ClassLabel):
        raise DataError(f"{source}: column 'label' must be a ClassLabel, found {label}")
    unknown = [name for name in label.names if name not in CLASS_NAMES]
    if unknown:
        raise DataError(f"{source}: unexpected class names {unknown}; expected a subset of {CLASS_NAMES}")
    if label.names != CLASS_NAMES:  # a subset or another order: map to the canonical ids
        mapping = {i: CLASS_NAMES.index(name) for i, name in enumerate(label.names)}
        dataset = dataset.map(lambda batch: {"label": [mapping[i] for i in batch["label"]]}, batched=True)
        dataset = dataset.cast_column("label", FEATURES["label"])
    return dataset


def load_hub_dataset(dataset_name: str, revision: str | None = None, token: str | None = None) -> datasets.DatasetDict:
    """Load a data set from the Hub by id (e.g. the one ``prepare_data.py --push_to_hub`` published)."""
    try:
        loaded = datasets.load_dataset(dataset_name, revision=revision, token=token)
    except Exception as error:  # network, auth and not-found errors all come as different types
        raise DataError(f"{dataset_name}: could not load the data set from the Hub ({type(error).__name__}: {error})") from error
    return datasets.DatasetDict({split: _check_labels(ds, f"{dataset_name}[{split}]") for split, ds in loaded.items()})


def load_prepared_dataset(dataset_dir: str | os.PathLike) -> datasets.DatasetDict:
    """Reload a data set written by ``prepare_dataset`` (no raw folder needed)."""
    path = Path(dataset_dir)
    if not (path / "dataset_dict.json").is_file():
        raise DataError(f"{dataset_dir}: not a prepared data set (no dataset_dict.json; create one with scripts/prepare_data.py)")
    loaded = datasets.load_from_disk(str(path))
    return datasets.DatasetDict({split: _check_labels(ds, f"{dataset_dir}[{split}]") for split, ds in loaded.items()})
