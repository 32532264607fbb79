"""A training output folder, read once: what the model cards are built from.

Model cards are built only from the files training and evaluation wrote (``config.json``, ``all_results.json``,
``per_class_metrics.json``, ``dataset_info.json``, ``training_args.json``, ``eval_<data>/evaluation_report.json``,
confusion matrices), so a card never states a number the folder does not hold.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.errors import AslError
from ..inference.reports import extra_evaluations

SPLITS = (("test", "test", "Test"), ("validation", "eval", "Validation"))  # (split name, results prefix, title)
KIND_TITLES = {"cnn": "custom CNN", "mobilenetv2": "MobileNetV2", "landmarks": "hand-landmark classifier"}
SECRET_KEY_PARTS = ("token", "password", "secret")


class ModelFolderError(AslError):
    """A folder to publish is not a saved model, or lacks the evaluation files training writes."""


def _read_json(path: Path, required: bool = False):
    if not path.is_file():
        if required:
            raise ModelFolderError(f"{path}: missing (not a folder written by scripts/train.py, which saves and evaluates the model)")
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFolderError(f"{path}: not valid JSON ({error})") from error


def public_training_args(args: dict) -> dict:
    """Training arguments without secrets (``hub_token`` and the like never reach a card or the Hub).

    Unset options written as the string ``"None"`` are read back as ``None`` so the card leaves them out.
    """
    return {k: None if v == "None" else v for k, v in args.items() if not any(part in k.lower() for part in SECRET_KEY_PARTS)}


def detect_model_kind(model_dir: str | os.PathLike) -> str:
    """``"cnn"`` for the transformers CNN folder, ``"landmarks"`` for the hand-landmark classifier, ``"mobilenetv2"``
    for a timm folder (from ``config.json``)."""
    model_dir = Path(model_dir)
    config = _read_json(model_dir / "config.json", required=True)
    if not (model_dir / "model.safetensors").is_file():
        raise ModelFolderError(f"{model_dir / 'model.safetensors'}: missing (only safetensors weights are published)")
    if config.get("model_type") == "asl_cnn":
        return "cnn"
    if config.get("model_type") == "asl_landmarks":
        return "landmarks"
    if "architecture" in config:
        return "mobilenetv2"
    raise ModelFolderError(
        f"{model_dir / 'config.json'}: not the ASL CNN (model_type asl_cnn), the hand-landmark classifier (asl_landmarks) "
        "nor a timm model (architecture)")


class TrainingRun:
    """The files of one training output folder, read once."""

    def __init__(self, model_dir: str | os.PathLike):
        self.dir = Path(model_dir)
        self.kind = detect_model_kind(self.dir)
        self.config = _read_json(self.dir / "config.json", required=True)
        results = _read_json(self.dir / "all_results.json") or _read_json(self.dir / "eval_results.json")
        if results is None:
            _read_json(self.dir / "all_results.json", required=True)
        missing = [f"{p}_{m}" for _, p, _ in SPLITS for m in ("accuracy", "macro_f1") if f"{p}_{m}" not in results]
        if missing:
            raise ModelFolderError(f"{self.dir / 'all_results.json'}: missing {', '.join(missing)}")
        self.results: dict = results
        self.args: dict = public_training_args(_read_json(self.dir / "training_args.json") or {})
        self.per_class: dict = _read_json(self.dir / "per_class_metrics.json") or {}
        self.data_info: dict = _read_json(self.dir / "dataset_info.json") or {}
        self.extra_evaluations: list[dict] = extra_evaluations(self.dir)
        """Evaluations by ``scripts/evaluate_model.py`` saved in the model folder (e.g. photos of other signers)."""
        self.confusion_matrices = [f"confusion_matrix_{s}.png" for s, _, _ in SPLITS if (self.dir / f"confusion_matrix_{s}.png").is_file()]
        self.processor_config: dict = _read_json(self.dir / "preprocessor_config.json") or {}

    @property
    def pretrained(self) -> bool:
        """MobileNetV2 started from ImageNet weights unless trained with ``--no_pretrained``."""
        if self.kind != "mobilenetv2":
            return False
        if "no_pretrained" in self.args:
            return not self.args["no_pretrained"]
        return bool(self.args.get("pretrained", True))

    @property
    def image_size(self) -> int | None:
        if self.kind == "cnn":
            return self.config.get("image_size")
        size = (self.config.get("pretrained_cfg") or {}).get("input_size")
        return size[-1] if size else None

    @property
    def num_parameters(self) -> int | None:
        return self.results.get("num_parameters")

    def hand_found(self, prefix: str) -> float | None:
        """Share of a split's photos in which MediaPipe found a hand, if reported (``<prefix>_no_hand_found_fraction``,
        written by training and by ``scripts/evaluate_model.py``)."""
        return hand_found_share({"no_hand_found_fraction": self.results.get(f"{prefix}_no_hand_found_fraction")})


def hand_found_share(report: dict) -> float | None:
    """The same share from an ``evaluation_report.json`` (null there for pixel models)."""
    missed = report.get("no_hand_found_fraction")
    return None if missed is None else 1.0 - float(missed)


def report_name(report: dict) -> str:
    """The name an ``evaluation_report.json`` goes by (``split_name``, else its folder's name): the ``dataset_name`` of
    its ``model-index`` entries and the key the Space ranks models by (``asl_hf.inference.reports``)."""
    return str(report.get("split_name") or Path(str(report.get("data") or "")).name)
