"""Check a raw image folder file by file before anything is loaded or split.

The public data set is ~87,000 photos gathered by hand; real folders contain ``.DS_Store`` files,
truncated downloads and stray class folders. Scanning first lets a run skip and report them
(or fail with ``--strict``) instead of crashing halfway through training.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from ..core.constants import CLASS_NAMES, IMAGE_EXTENSIONS
from ..core.errors import DataError
from ..core.images import needs_conversion

MAX_IMAGE_PIXELS = 40_000_000
"""Images above this many pixels are refused as possible decompression bombs (the real photos are 200x200)."""

MIN_IMAGES_PER_CLASS = 3
"""A class needs at least one image in each of train, validation and test to be stratified."""

# Problem kinds, in the order the report lists them.
NOT_AN_IMAGE = "not_an_image"
EMPTY_FILE = "empty_file"
UNREADABLE = "unreadable"
TRUNCATED = "truncated"
TOO_LARGE = "too_large"
UNEXPECTED_CLASS = "unexpected_class"
OUTSIDE_CLASS_FOLDER = "outside_class_folder"
EMPTY_CLASS = "empty_class"
TOO_FEW_IMAGES = "too_few_images"
MISSING_CLASS = "missing_class"

SKIPPING_KINDS = {NOT_AN_IMAGE, EMPTY_FILE, UNREADABLE, TRUNCATED, TOO_LARGE, UNEXPECTED_CLASS, OUTSIDE_CLASS_FOLDER, TOO_FEW_IMAGES}
"""Problems that drop files; the others (empty or missing class) only inform."""


@dataclass(frozen=True)
class Problem:
    path: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class GoodImage:
    path: str
    label: str
    needs_conversion: bool
    """Not plain upright RGB (mode, alpha, 16-bit or EXIF rotation): re-encoded as RGB PNG on load."""


@dataclass
class ScanReport:
    root: str
    images: list[GoodImage] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def class_counts(self) -> dict[str, int]:
        counts = Counter(image.label for image in self.images)
        return {name: counts[name] for name in CLASS_NAMES if counts[name]}

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.kind in SKIPPING_KINDS]

    def summary(self) -> str:
        kinds = Counter(p.kind for p in self.problems)
        converted = sum(image.needs_conversion for image in self.images)
        lines = [
            f"Scanned {self.root}: {len(self.images)} usable images in {len(self.class_counts)} classes, "
            f"{len(self.skipped)} files skipped, {converted} converted to RGB."
        ]
        lines += [f"  {kind}: {count}" for kind, count in sorted(kinds.items())]
        return "\n".join(lines)

    def format_text(self) -> str:
        lines = [self.summary(), ""]
        lines += [str(problem) for problem in self.problems]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        return {
            "root": self.root,
            "num_images": len(self.images),
            "class_counts": self.class_counts,
            "num_converted": sum(image.needs_conversion for image in self.images),
            "problems": [asdict(p) for p in self.problems],
        }

    def write(self, output_dir: str | os.PathLike) -> None:
        """Write ``data_report.json`` and ``data_report.txt`` into ``output_dir``."""
        output_dir = Path(output_dir)
        (output_dir / "data_report.json").write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        (output_dir / "data_report.txt").write_text(self.format_text())


@dataclass
class SourcesReport(ScanReport):
    """The scans of several raw folders as one report (all images and problems, ``root`` lists the folders), plus each
    folder's own report by source name: callers that print ``summary()`` or ``write()`` it need not count folders."""

    sources: dict[str, ScanReport] = field(default_factory=dict)

    @classmethod
    def combine(cls, reports: dict[str, ScanReport]) -> SourcesReport:
        return cls(
            root=", ".join(report.root for report in reports.values()),
            images=[image for report in reports.values() for image in report.images],
            problems=[problem for report in reports.values() for problem in report.problems],
            sources=dict(reports),
        )

    def summary(self) -> str:
        if len(self.sources) < 2:
            return super().summary()
        return "\n".join(report.summary() for report in self.sources.values())

    def to_dict(self) -> dict:
        per_source = {
            name: {"root": report.root, "num_images": len(report.images), "class_counts": report.class_counts,
                   "num_skipped": len(report.skipped)}
            for name, report in self.sources.items()
        }
        return {**super().to_dict(), "sources": per_source}


def check_image_file(path: str, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[str | None, str, bool]:
    """Open and fully decode one file. Returns ``(problem_kind or None, detail, needs_conversion)``."""
    p = Path(path)
    if p.name.startswith(".") or p.suffix.lower() not in IMAGE_EXTENSIONS:
        return NOT_AN_IMAGE, f"suffix {p.suffix or '(none)'!r} is not an image type", False
    try:
        if p.stat().st_size == 0:
            return EMPTY_FILE, "0 bytes", False
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as image:
                width, height = image.size
                if width * height > max_pixels:
                    return TOO_LARGE, f"{width}x{height} pixels exceeds the {max_pixels:,}-pixel limit", False
                image.load()
                return None, f"{width}x{height} {image.mode}", needs_conversion(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        return TOO_LARGE, str(error).split(".")[0], False
    except UnidentifiedImageError:
        return UNREADABLE, "not a decodable image", False
    except (OSError, SyntaxError, ValueError) as error:
        message = str(error) or type(error).__name__
        kind = TRUNCATED if "truncated" in message.lower() else UNREADABLE
        return kind, message, False


def resolve_nested_root(root: str | os.PathLike, announce: bool = True) -> Path:
    """``root``, or ``root/<same name>`` when that folder is all ``root`` holds (hidden entries such as ``.DS_Store``
    aside): the public data set unpacks to ``asl_alphabet_train/asl_alphabet_train/<CLASS>/`` and
    ``asl_alphabet_test/asl_alphabet_test/<CLASS>_test.jpg``. Says so in one line unless ``announce=False``.

    A folder named like a class (``A/A/``) is left alone: that is a one-class root, not a nested download."""
    path = Path(root)
    if not path.is_dir() or path.name in CLASS_NAMES:
        return path
    entries = [entry for entry in path.iterdir() if not entry.name.startswith(".")]
    if len(entries) != 1 or entries[0].name != path.name or not entries[0].is_dir():
        return path
    inner = entries[0]
    if announce and os.environ.get("LOCAL_RANK", "0") == "0":  # under accelerate/torchrun, one line is enough
        print(f"{path.name}: using the nested folder {path.name}/{inner.name} ({inner})")
    return inner


def check_class_folders(root: str | os.PathLike) -> None:
    """Refuse a training folder with a subfolder that is not one of the 29 classes, in one line naming it: a typo
    (``a/``, ``Space/``) or a folder given one level too high would otherwise drop a whole class without stopping."""
    root_path = Path(root)
    if not root_path.is_dir():
        return  # the scan says so
    unknown = sorted(e for e in root_path.iterdir() if e.is_dir() and not e.name.startswith(".") and e.name not in CLASS_NAMES)
    if not unknown:
        return
    first = unknown[0]
    alike = [name for name in CLASS_NAMES if name.lower() == first.name.lower()]
    if alike:
        hint = f"; did you mean {alike[0]!r}?"
    elif any((first / name).is_dir() for name in CLASS_NAMES):
        hint = "; it holds class folders itself: give it as a --train_dir of its own"
    else:
        hint = "; rename or remove it"
    more = f" (also not classes: {', '.join(repr(e.name) for e in unknown[1:])})" if len(unknown) > 1 else ""
    raise DataError(f"{first}: {first.name!r} is not a class folder (A-Z, del, nothing, space){hint}{more}")


def _check(args: tuple[str, int]) -> tuple[str | None, str, bool]:
    return check_image_file(*args)


def scan_image_folder(
    root: str | os.PathLike,
    strict: bool = False,
    num_proc: int | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
    min_images_per_class: int = MIN_IMAGES_PER_CLASS,
    show_progress: bool = True,
) -> ScanReport:
    """Scan ``root/<CLASS>/*`` and sort every file into usable images and reported problems.

    ``strict=True`` raises :class:`DataError` naming the first problem instead of skipping.
    The folder is only read, never modified. A download-style ``root/<same name>/<CLASS>/`` is read from the inner
    folder (see :func:`resolve_nested_root`).
    """
    root_path = resolve_nested_root(root)
    if not root_path.is_dir():
        raise DataError(f"{root}: not a folder (expected <root>/<CLASS>/<image files>)")
    report = ScanReport(root=str(root_path))
    candidates: list[tuple[str, str]] = []
    for entry in sorted(root_path.iterdir()):
        if entry.is_file():
            if entry.name.startswith("."):
                report.problems.append(Problem(str(entry), NOT_AN_IMAGE, "hidden file outside the class folders"))
            else:
                report.problems.append(Problem(str(entry), OUTSIDE_CLASS_FOLDER, "files must sit in a class folder"))
            continue
        if entry.name.startswith("."):
            continue
        files = sorted(f for f in entry.rglob("*") if f.is_file())
        if entry.name not in CLASS_NAMES:
            report.problems.append(
                Problem(str(entry), UNEXPECTED_CLASS, f"{len(files)} files skipped; class folders must be one of A-Z, del, nothing, space")
            )
            continue
        if not files:
            report.problems.append(Problem(str(entry), EMPTY_CLASS, "class folder holds no files"))
        candidates += [(str(f), entry.name) for f in files]
    if not candidates:
        raise DataError(f"{root}: no class folders with files (expected <root>/<CLASS>/<image files>, classes {CLASS_NAMES[0]}..{CLASS_NAMES[-1]})")

    num_proc = num_proc or min(os.cpu_count() or 1, 8)
    jobs = [(path, max_pixels) for path, _ in candidates]
    on_main_process = os.environ.get("LOCAL_RANK", "0") == "0"  # under accelerate/torchrun, one bar is enough
    progress = dict(total=len(jobs), desc="Scanning images", unit="img", disable=not (show_progress and on_main_process))
    if num_proc > 1 and len(jobs) > 256:
        with ProcessPoolExecutor(num_proc) as pool:
            results = list(tqdm(pool.map(_check, jobs, chunksize=64), **progress))
    else:
        results = [_check(job) for job in tqdm(jobs, **progress)]

    for (path, label), (kind, detail, convert) in zip(candidates, results):
        if kind is None:
            report.images.append(GoodImage(path, label, convert))
        else:
            report.problems.append(Problem(path, kind, detail))

    counts = Counter(image.label for image in report.images)
    too_few = {label for label, count in counts.items() if count < min_images_per_class}
    for label in sorted(too_few, key=CLASS_NAMES.index):
        report.problems.append(
            Problem(str(root_path / label), TOO_FEW_IMAGES, f"{counts[label]} usable images; at least {min_images_per_class} are needed to stratify 80/10/10")
        )
    report.images = [image for image in report.images if image.label not in too_few]
    for name in CLASS_NAMES:
        if not counts.get(name) and not (root_path / name).is_dir():
            report.problems.append(Problem(str(root_path / name), MISSING_CLASS, "no folder for this class"))

    if strict and report.problems:
        first = report.problems[0]
        raise DataError(f"{first} ({len(report.problems)} problems in total; run without --strict to skip bad files and get a report)")
    if not report.images:
        raise DataError(f"{root}: no usable images ({len(report.problems)} problems, first: {report.problems[0] if report.problems else 'none'})")
    return report
