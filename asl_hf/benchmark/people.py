"""New people: leave-one-person-out training and "your hand" calibration, measured with the product's own code.

For each person ``p`` of a folder of several people's photos (``<folder>/<CLASS>/<person>_<letter>_<session>_...``,
the Massey naming; the person and the session (a lighting direction there) are read from each file name with
:data:`PERSON_PATTERN`):

1. the landmark model is trained (``accelerate launch scripts/train.py``, the training defaults) on the main training
   folders plus every other person, never on ``p``;
2. ``k = 0``: that model on ``p``'s photos;
3. ``k = 1, 3, 5``: calibrated with ``k`` photos a letter of ``p`` from ONE session, tested on ``p``'s photos of the
   other sessions (every session in turn, ``draws`` random draws each; a photo without a hand counts wrong).

And the training signer: the full model calibrated with ``k`` photos a class of the training split of one source,
tested on that source's test split (calibration must not break a model for the person it was trained on).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.constants import CLASS_NAMES, IMAGE_EXTENSIONS
from ..core.errors import AslError

PERSON_PATTERN = r"^(?P<person>[^_]+)_[^_]+_(?P<session>[^_]+)_"
"""``hand1_a_bot_seg_1_cropped.jpeg``: person ``hand1``, session ``bot`` (the light from below)."""
DEFAULT_KS = (1, 3, 5)


@dataclass(frozen=True)
class PersonPhoto:
    path: Path
    label: str
    person: str
    session: str


def scan_people(folder: str | os.PathLike, pattern: str = PERSON_PATTERN) -> list[PersonPhoto]:
    """Every photo of ``folder/<CLASS>/`` with its person and session; a file name the pattern does not match is a
    one-line error naming it."""
    root, regex = Path(folder), re.compile(pattern)
    if not root.is_dir():
        raise AslError(f"{root}: not a folder (expected <folder>/<CLASS>/<person>_... photos)")
    photos = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name in CLASS_NAMES):
        for path in sorted(class_dir.iterdir()):
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            match = regex.match(path.name)
            if match is None:
                raise AslError(f"{path}: the file name does not say its person and session (pattern {pattern})")
            photos.append(PersonPhoto(path, class_dir.name, match["person"], match["session"]))
    if len({photo.person for photo in photos}) < 2:
        raise AslError(f"{root}: leave-one-person-out needs photos of at least two people")
    return photos


def link_folder(photos: Sequence[PersonPhoto], destination: Path) -> Path:
    """A raw folder (``<destination>/<CLASS>/<file>``) of links to ``photos``: the training input without a copy."""
    if destination.exists():
        shutil.rmtree(destination)
    for photo in photos:
        target = destination / photo.label / photo.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.symlink_to(photo.path.resolve())
        except OSError:  # file systems without links
            shutil.copy2(photo.path, target)
    return destination


# --- the person's photos as the model sees them --------------------------------------------------------------------
@dataclass
class PersonHands:
    """One person's photos through one landmark model: normalised landmarks, hand found, labels, sessions."""

    landmarks: torch.Tensor
    found: np.ndarray
    labels: np.ndarray
    sessions: np.ndarray


def person_hands(classifier, photos: Sequence[PersonPhoto], show_progress: bool = False) -> PersonHands:
    """Find each photo's hand once (the photo path, as for any photo); every draw below reuses it."""
    from tqdm.auto import tqdm

    from ..core.images import open_image

    detections = [classifier.find_hands([classifier.as_image(open_image(photo.path))])[0]
                  for photo in tqdm(photos, desc="Finding hands", unit="photo", disable=not show_progress)]
    inputs = classifier.landmark_inputs(detections)
    return PersonHands(inputs["landmarks"].cpu(), inputs["hand_found"].cpu().numpy(), np.array([p.label for p in photos]),
                       np.array([p.session for p in photos]))


@torch.inference_mode()
def correct_answers(classifier, hands: PersonHands, rows: np.ndarray, calibration=None) -> np.ndarray:
    """Whether the model (with ``calibration``, or alone) answers each row right. A row without a hand gets the model's
    no-hand answer (``nothing``): right for a ``nothing`` photo, wrong for a letter."""
    from ..inference.calibration import calibrated_probabilities

    correct = hands.labels[rows] == classifier.no_hand_label
    found = rows[hands.found[rows]]
    if not len(found):
        return correct
    landmarks = hands.landmarks[found]
    if calibration is None:
        inputs = {"landmarks": landmarks, "hand_found": torch.ones(len(found), dtype=torch.bool)}
        probabilities = classifier.logits_of(inputs).softmax(-1)
    else:
        probabilities = calibrated_probabilities(classifier, calibration.bind(classifier), landmarks)
    predicted = np.array(classifier.labels)[probabilities.argmax(-1).numpy()]
    correct[hands.found[rows]] = predicted == hands.labels[found]
    return correct


def draw_examples(hands: PersonHands, session: str, k: int, draw: int, seed: int) -> np.ndarray:
    """Rows of ``k`` photos a letter from ``session`` with a hand found (a seeded random draw)."""
    rng = np.random.default_rng([seed, k, draw, sum(map(ord, session))])
    chosen = []
    for label in sorted(set(hands.labels)):
        usable = np.flatnonzero((hands.labels == label) & (hands.sessions == session) & hands.found)
        chosen += rng.choice(usable, size=min(k, len(usable)), replace=False).tolist()
    return np.array(sorted(chosen), dtype=int)


def calibration_from_rows(classifier, hands: PersonHands, rows: np.ndarray):
    from ..inference.calibration import Calibration, landmark_layout

    return Calibration(hands.landmarks[rows].numpy(), hands.labels[rows].tolist(), layout=landmark_layout(classifier))


def calibration_scores(classifier, hands: PersonHands, ks: Sequence[int] = DEFAULT_KS, draws: int = 3, seed: int = 0) -> dict:
    """Accuracy on the other sessions at ``k = 0`` and each ``k`` (mean over every session and draw)."""
    scores: dict[int, list[float]] = {0: [], **{k: [] for k in ks}}
    test_sizes = []
    for session in sorted(set(hands.sessions)):
        test = np.flatnonzero(hands.sessions != session)
        test_sizes.append(len(test))
        scores[0].append(correct_answers(classifier, hands, test).mean())
        for k in ks:
            for draw in range(draws):
                calibration = calibration_from_rows(classifier, hands, draw_examples(hands, session, k, draw, seed))
                scores[k].append(correct_answers(classifier, hands, test, calibration).mean())
    return {"accuracy": {str(k): float(np.mean(v)) for k, v in scores.items()},
            "sessions": sorted(set(hands.sessions)), "draws": draws, "test_photos_per_session": test_sizes,
            "no_hand_found": int((~hands.found).sum()), "photos": len(hands.found)}


def frame_cost_ms(classifier, hands: PersonHands, k: int = 3, repeats: int = 200) -> dict:
    """Median milliseconds per frame (batch 1, landmarks given) of the model alone and with a ``k``-photo calibration."""
    session = sorted(set(hands.sessions))[0]
    calibration = calibration_from_rows(classifier, hands, draw_examples(hands, session, k, 0, 0))
    rows = np.flatnonzero(hands.found)[:repeats]  # frames with a hand: the classifier part is what is timed

    def median_ms(with_calibration) -> float:
        times = []
        for row in rows:
            start = time.perf_counter()
            correct_answers(classifier, hands, np.array([row]), with_calibration)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    start = time.perf_counter()
    calibration_from_rows(classifier, hands, draw_examples(hands, session, k, 1, 0)).bind(classifier)
    build_ms = (time.perf_counter() - start) * 1000
    return {"model_ms": median_ms(None), "calibrated_ms": median_ms(calibration), "build_ms": build_ms, "k": k}


# --- the training signer ----------------------------------------------------------------------------------------------
def signer_scores(classifier, dataset_dir: str, source: str | None, ks: Sequence[int] = DEFAULT_KS, draws: int = 3,
                  seed: int = 0) -> dict:
    """The full model on one source's test split, alone and calibrated with ``k`` photos a class of its train split
    (drawn from a seeded handful a class, so only those are searched for a hand); photos without a hand count wrong."""
    from ..data import load_prepared_dataset

    splits = load_prepared_dataset(dataset_dir)

    def hands_of(split: str, per_class: int | None = None) -> PersonHands:
        data = splits[split]
        if source is not None and "source" in data.features:
            wanted = data.features["source"].str2int(source)
            data = data.filter(lambda s: s == wanted, input_columns="source")
        if per_class is not None:
            data = data.select(candidate_rows(np.array(data["label"]), per_class, seed))
        names = data.features["label"].names
        images = [classifier.as_image(image) for image in data["image"]]
        inputs = classifier.landmark_inputs(classifier.find_hands(images))
        labels = np.array([names[i] for i in data["label"]])
        return PersonHands(inputs["landmarks"].cpu(), inputs["hand_found"].cpu().numpy(), labels, np.array(["train"] * len(labels)))

    train, test = hands_of("train", per_class=max(ks) * draws + 3), hands_of("test")
    everything = np.arange(len(test.labels))
    scores = {"0": float(correct_answers(classifier, test, everything).mean())}
    for k in ks:
        runs = []
        for draw in range(draws):
            calibration = calibration_from_rows(classifier, train, draw_examples(train, "train", k, draw, seed))
            runs.append(float(correct_answers(classifier, test, everything, calibration).mean()))
        scores[str(k)] = float(np.mean(runs))
    return {"accuracy": scores, "test_photos": len(everything), "no_hand_found": int((~test.found).sum()), "source": source,
            "draws": draws}


def candidate_rows(labels: np.ndarray, per_class: int, seed: int) -> list[int]:
    """A seeded random ``per_class`` rows of each label (all of a label's rows where it has fewer), in order."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        chosen += rng.choice(rows, size=min(per_class, len(rows)), replace=False).tolist()
    return sorted(chosen)


def format_people_table(report: dict) -> str:
    """Markdown: one row per person (and the mean, and the training signer), accuracy at each k, errors vs k = 0."""
    ks = ["0", *[str(k) for k in report["ks"]]]
    lines = ["| person | " + " | ".join(f"k = {k}" for k in ks) + " | errors at k = 3 vs k = 0 |",
             "|:--|" + "--:|" * len(ks) + "--:|"]

    def row(name: str, accuracy: dict) -> str:
        ratio = (1 - accuracy["3"]) / (1 - accuracy["0"]) if "3" in accuracy and accuracy["0"] < 1 else None
        return (f"| {name} | " + " | ".join(f"{100 * accuracy[k]:.1f}%" for k in ks) + " | "
                + ("-" if ratio is None else f"x {ratio:.2f}") + " |")

    people = report["people"]
    lines += [row(name, person["accuracy"]) for name, person in people.items()]
    mean = {k: float(np.mean([person["accuracy"][k] for person in people.values()])) for k in ks}
    lines.append(row("**mean**", mean))
    if report.get("signer"):
        lines.append(row(f"training signer ({report['signer'].get('source') or 'test split'})", report["signer"]["accuracy"]))
    return "\n".join(lines) + "\n"


__all__ = [
    "DEFAULT_KS", "PERSON_PATTERN", "PersonHands", "PersonPhoto", "calibration_scores", "correct_answers", "draw_examples",
    "format_people_table", "frame_cost_ms", "link_folder", "person_hands", "scan_people", "signer_scores",
]
