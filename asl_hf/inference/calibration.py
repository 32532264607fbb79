"""Your hand: adapt a trained hand-landmark model to one person from a few labelled photos, without retraining it.

A :class:`Calibration` holds the person's hands as the model sees them: the normalised 21 landmarks of each calibration
photo (never the photo) and its letter. Bound to a model, the examples become points in the model's own feature space
(its hidden layers' outputs, each scaled to unit length and concatenated), and each new frame is compared with them: the
nearest example of each calibrated letter gives a distance, a softmax over those distances and a "none of these" option
(a reject distance) gives the calibration's vote, and the vote is mixed with the model's own probabilities::

    q = softmax([-d_c / T for each calibrated letter c] + [-d_reject / T])
    p(c) = (1 - w) p_model(c) + w (q_c + q_reject p_model(c))      (q_c = 0 for letters not calibrated)

so letters the person did not calibrate stay reachable through the model, a frame unlike every example (q_reject near 1)
keeps the model's answer, and the result is still a probability distribution. Distances are cosine distances between
feature vectors; the frame's mirror image counts too (the model's test-time augmentation classifies both), and the
smaller distance wins. While a calibration is in use, the model's own answer weighs its mirrored view at half
(``max(p(x), 0.5 p(mirror x))``): a person who calibrated shows their own hand, not its mirror image. A frame without a
hand keeps the model's no-hand answer. The file is a small safetensors file
(landmarks and labels, settings and the landmark layout in its metadata); it never changes the model's files, and it
works with any landmark model of the same landmark layout and classes (the features are recomputed at load time).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core.errors import AslError

FORMAT = "asl_hf.calibration"
VERSION = 1
FILE_SUFFIX = ".safetensors"


class CalibrationError(AslError):
    """A calibration cannot be built, read or used with this model (names the file or the problem)."""


@dataclass(frozen=True)
class CalibrationSettings:
    """How strongly the person's examples count, chosen by leave-one-person-out on two signers (README)."""

    weight: float = 0.7
    """``w``: the share of the probability the calibration decides (the model keeps ``1 - w``)."""
    temperature: float = 0.05
    """``T``: cosine distances are divided by it before the softmax (small: the nearest letter dominates)."""
    reject_distance: float = 0.1
    """``d_reject``: a frame farther than this from every example leans back on the model's own answer."""
    mirror_weight: float = 0.5
    """The model's own answer while calibrated: ``max(p(x), mirror_weight * p(mirror x))``, renormalised."""


@dataclass
class Calibration:
    """One person's calibration examples: normalised landmarks (``(n, 21, 3)``) and each one's class name."""

    landmarks: np.ndarray
    labels: list[str]
    settings: CalibrationSettings = field(default_factory=CalibrationSettings)
    person: str = ""
    layout: dict = field(default_factory=dict)
    """The landmark layout the examples were normalised with (points, coordinates, canonical handedness)."""
    no_hand: dict[str, int] = field(default_factory=dict)
    """Per class, how many of the given photos had no hand found (reported, not stored as examples)."""
    no_hand_files: dict[str, list[str]] = field(default_factory=dict)
    """Per class, the names of the photos without a hand (where the photos had names; never written to the file)."""

    def __post_init__(self):
        landmarks = np.asarray(self.landmarks, np.float32)
        self.landmarks = landmarks.reshape(len(self.labels), -1, 3) if len(self.labels) else np.zeros((0, 21, 3), np.float32)
        self._bound: dict[int, BoundCalibration] = {}

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels))

    def counts(self) -> dict[str, int]:
        """Examples per class."""
        return {name: self.labels.count(name) for name in self.classes}

    # --- the file -----------------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The calibration as safetensors bytes: landmarks and label ids as tensors, the rest as metadata."""
        from safetensors.torch import save

        vocabulary = sorted(set(self.labels))
        tensors = {"landmarks": torch.from_numpy(np.ascontiguousarray(self.landmarks)),
                   "label_ids": torch.tensor([vocabulary.index(name) for name in self.labels], dtype=torch.int64)}
        metadata = {"format": FORMAT, "version": str(VERSION), "labels": json.dumps(vocabulary), "person": self.person,
                    "settings": json.dumps(asdict(self.settings)), "layout": json.dumps(self.layout),
                    "no_hand": json.dumps(self.no_hand)}
        return save(tensors, metadata=metadata)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "calibration") -> Calibration:
        """Read :meth:`to_bytes`' output; anything else is a one-line :class:`CalibrationError` naming ``name``."""
        from safetensors.torch import load

        metadata = _safetensors_metadata(data, name)
        if metadata.get("format") != FORMAT:
            raise CalibrationError(f"{name}: not an asl_hf calibration file (made by scripts/calibrate.py or the Space)")
        if int(metadata.get("version", 0)) > VERSION:
            raise CalibrationError(f"{name}: calibration format {metadata['version']} is newer than this asl_hf reads ({VERSION})")
        tensors = load(data)
        if {"landmarks", "label_ids"} - set(tensors):
            raise CalibrationError(f"{name}: not an asl_hf calibration file (no landmarks in it)")
        vocabulary = json.loads(metadata["labels"])
        return cls(tensors["landmarks"].float().numpy(), [vocabulary[i] for i in tensors["label_ids"].tolist()],
                   CalibrationSettings(**json.loads(metadata.get("settings") or "{}")), metadata.get("person", ""),
                   json.loads(metadata.get("layout") or "{}"), json.loads(metadata.get("no_hand") or "{}"))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the calibration to one ``.safetensors`` file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")  # never a half-written file under the real name
        partial.write_bytes(self.to_bytes())
        os.replace(partial, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Calibration:
        """Read a file written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise CalibrationError(f"{path}: no such calibration file")
        return cls.from_bytes(path.read_bytes(), str(path))

    # --- with a model -------------------------------------------------------------------------------------------
    def check(self, classifier) -> None:
        """Refuse a model this calibration cannot serve: not a landmark model, another landmark layout, other classes."""
        if not classifier.detects_hands:
            raise CalibrationError("calibration works with the hand-landmark model only: this model classifies whole photos, "
                                   "not hand landmarks")
        layout = landmark_layout(classifier)
        if self.layout and self.layout != layout:
            raise CalibrationError(f"this calibration was made for another landmark layout ({self.layout}); this model uses {layout}")
        unknown = sorted(set(self.labels) - set(classifier.labels))
        if unknown:
            raise CalibrationError(f"this calibration has classes the model does not know: {', '.join(unknown)}")

    def bind(self, classifier) -> BoundCalibration:
        """The calibration in this model's feature space (computed once per model and kept)."""
        key = id(classifier.model)
        if key not in self._bound:
            self.check(classifier)
            features = landmark_features(classifier, torch.from_numpy(self.landmarks)) if len(self.labels) else None
            self._bound[key] = BoundCalibration(self, classifier.labels, features)
        return self._bound[key]


def _safetensors_metadata(data: bytes, name: str) -> dict:
    """The ``__metadata__`` of safetensors bytes (an 8-byte little-endian header length, then a JSON header)."""
    try:
        length = int.from_bytes(data[:8], "little")
        if not 0 < length <= len(data) - 8:
            raise ValueError("bad header length")
        header = json.loads(data[8 : 8 + length])
    except (ValueError, UnicodeDecodeError):
        raise CalibrationError(f"{name}: not a calibration file (not a safetensors file)") from None
    return header.get("__metadata__") or {} if isinstance(header, dict) else {}


def landmark_layout(classifier) -> dict:
    """What the calibration's landmarks depend on: the model's points and coordinates, and the processor's mirroring."""
    config = classifier.model.config
    return {"num_landmarks": int(config.num_landmarks), "num_coordinates": int(config.num_coordinates),
            "canonical_handedness": str(getattr(classifier.processor, "canonical_handedness", "Left"))}


@torch.inference_mode()
def landmark_features(classifier, landmarks: torch.Tensor) -> torch.Tensor:
    """The features a calibration compares: each hidden layer's output for ``(n, 21, 3)`` normalised landmarks, scaled
    to unit length and concatenated (divided by the square root of the layer count, so the whole is unit length too)."""
    layers = classifier.model.hidden_layers(landmarks.to(classifier.device))
    units = [torch.nn.functional.normalize(layer.float().cpu(), dim=-1) for layer in layers]
    return torch.cat(units, dim=-1) / len(units) ** 0.5


def mirrored(landmarks: torch.Tensor) -> torch.Tensor:
    flipped = landmarks.clone()
    flipped[..., 0] = -flipped[..., 0]
    return flipped


@torch.inference_mode()
def calibrated_probabilities(classifier, calibration: BoundCalibration, landmarks: torch.Tensor) -> torch.Tensor:
    """Probabilities ``(n, C)`` of frames with a hand (their normalised landmarks) under a calibration."""
    model = classifier.model
    both = torch.cat([landmarks, mirrored(landmarks)]).to(classifier.device)
    probabilities = model.view_logits(both).float().cpu().softmax(-1)
    features = landmark_features(classifier, both)
    n = len(landmarks)
    return calibration.adjust(probabilities[:n], probabilities[n:], features[:n], features[n:])


class BoundCalibration:
    """A calibration's examples as features of one model, ready to adjust its probabilities."""

    def __init__(self, calibration: Calibration, model_labels: Sequence[str], features: torch.Tensor | None):
        self.settings = calibration.settings
        self.features = features
        label2id = {name: i for i, name in enumerate(model_labels)}
        self.class_ids = torch.tensor([label2id[name] for name in calibration.classes], dtype=torch.long)
        slots = {name: i for i, name in enumerate(calibration.classes)}
        self.slot_of_example = torch.tensor([slots[name] for name in calibration.labels], dtype=torch.long)

    def model_answer(self, probabilities: torch.Tensor, mirrored_probabilities: torch.Tensor) -> torch.Tensor:
        """The model's probabilities with its mirrored view at ``mirror_weight``, renormalised."""
        combined = torch.maximum(probabilities, self.settings.mirror_weight * mirrored_probabilities)
        return combined / combined.sum(-1, keepdim=True)

    def adjust(self, probabilities: torch.Tensor, mirrored_probabilities: torch.Tensor, features: torch.Tensor,
               mirrored_features: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities ``(n, C)`` from both views' probabilities and features (frames with a hand)."""
        model = self.model_answer(probabilities, mirrored_probabilities)
        if self.features is None or not len(model):
            return model
        settings = self.settings
        distance = 1.0 - torch.maximum(features @ self.features.T, mirrored_features @ self.features.T)  # (n, examples)
        nearest = torch.full((len(distance), len(self.class_ids)), float("inf"))
        nearest = nearest.scatter_reduce(1, self.slot_of_example.expand(len(distance), -1), distance, reduce="amin")
        scores = torch.cat([-nearest, torch.full((len(distance), 1), -settings.reject_distance)], dim=1) / settings.temperature
        vote = scores.softmax(-1)
        adjusted = (1.0 - settings.weight + settings.weight * vote[:, -1:]) * model
        adjusted[:, self.class_ids] += settings.weight * vote[:, :-1]
        return adjusted


# --- building one ---------------------------------------------------------------------------------------------------
def build_calibration(classifier, photos: Mapping[str, Sequence], person: str = "",
                      settings: CalibrationSettings | None = None, show_progress: bool = False) -> Calibration:
    """A calibration from ``{class name: [photos]}`` of one person (PIL images or uint8 arrays); photos without a
    found hand are counted in ``no_hand`` (named in ``no_hand_files`` where ``image.info["file_name"]`` says their
    name, as :func:`photos_from_folder` sets it) and left out. Unknown class names are a :class:`CalibrationError`."""
    from tqdm.auto import tqdm

    if not classifier.detects_hands:
        raise CalibrationError("calibration works with the hand-landmark model only: this model classifies whole photos")
    unknown = sorted(set(photos) - set(classifier.labels))
    if unknown:
        raise CalibrationError(f"unknown class names {unknown}; the model's classes are {', '.join(classifier.labels)}")
    landmarks, labels, no_hand, no_hand_files = [], [], {}, {}
    bar = tqdm(total=sum(len(images) for images in photos.values()), desc="Finding hands", unit="photo", disable=not show_progress)
    for name, images in photos.items():
        for index, image in enumerate(images):
            detection = classifier.find_hands([classifier.as_image(image, index)])[0]
            bar.update()
            if detection is None:
                no_hand[name] = no_hand.get(name, 0) + 1
                no_hand_files.setdefault(name, []).append(getattr(image, "info", {}).get("file_name", f"{name} #{index + 1}"))
                continue
            landmarks.append(classifier.processor.normalise(detection))
            labels.append(name)
    bar.close()
    array = np.stack(landmarks) if landmarks else np.zeros((0, 21, 3), np.float32)
    return Calibration(array, labels, settings or CalibrationSettings(), person, landmark_layout(classifier), no_hand, no_hand_files)


def photos_from_folder(folder: str | os.PathLike, known_labels: Sequence[str]) -> dict[str, list]:
    """``{class: [PIL images]}`` from ``folder/<CLASS>/<images>``: an empty folder, a class folder the model does not
    know and an unreadable image are one-line errors naming them."""
    from ..core.constants import IMAGE_EXTENSIONS
    from ..core.images import open_image

    root = Path(folder)
    if not root.is_dir():
        raise CalibrationError(f"{root}: not a folder (expected <folder>/<CLASS>/<photos>)")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [p.name for p in class_dirs if p.name not in set(known_labels)]
    if unknown:
        raise CalibrationError(f"{root}: class folders {unknown} are not classes of the model (it knows {', '.join(known_labels)})")
    photos = {}
    for class_dir in class_dirs:
        files = sorted(p for p in class_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))
        if files:
            photos[class_dir.name] = [_named(open_image(path, f"{class_dir.name}/{path.name}"), f"{class_dir.name}/{path.name}")
                                      for path in files]
    if not photos:
        raise CalibrationError(f"{root}: no photos (expected <folder>/<CLASS>/<photos>, classes {', '.join(known_labels)})")
    return photos


def _named(image, name: str):
    image.info["file_name"] = name  # PIL's own per-image metadata: build_calibration names photos without a hand
    return image


__all__ = [
    "BoundCalibration", "Calibration", "CalibrationError", "CalibrationSettings", "build_calibration", "calibrated_probabilities",
    "landmark_features", "landmark_layout", "mirrored", "photos_from_folder",
]
