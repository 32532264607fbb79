"""Build the model to train, with what the training loop needs to know about it.

The loop itself is model-agnostic: it asks a :class:`ModelBundle` for logits, parameter groups,
phases, the preprocessing spec and how to save the result in its ecosystem's format.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..core.constants import CLASS_NAMES, ID2LABEL, LABEL2ID
from ..core.errors import AslError
from ..models.preprocessing import PreprocessSpec
from .plan import ModelSpec, ScheduleSpec
from .schedule import Phase


@dataclass
class ModelBundle:
    kind: str
    """"cnn" or "landmarks" (transformers models) or "mobilenetv2" (timm model)."""
    model: nn.Module
    spec: PreprocessSpec | None
    """The image preprocessing (None for the landmark model: its processor turns photos into landmarks)."""
    save: Callable[[nn.Module, Path], None]
    """Write the model in its loadable format (safetensors + config + preprocessing) into a folder."""
    groups: dict[str, list[nn.Parameter]]
    """Named parameter groups for the optimiser (phases set each group's learning rate)."""
    phases: list[Phase]
    enter_phase: Callable[[Phase], None] = lambda phase: None
    """Set which parameters train (``requires_grad``) and which BatchNorm statistics stay frozen in a phase."""
    train_mode: Callable[[nn.Module], None] = lambda model: model.train()
    """``model.train()`` that keeps frozen BatchNorm layers in inference mode."""
    description: dict = field(default_factory=dict)
    frozen_prefix: Callable[[], nn.Module] | None = None
    """The part of the model that no phase trains (its output can be cached once per image), or None."""
    top_of_network: Callable[[], nn.Module] | None = None
    """A module from the frozen prefix's output to the logits, sharing the model's parameters."""
    processor: object | None = None
    """The landmark model's image processor (photos -> landmarks), used once to build its training data."""
    head: Callable[[], nn.Linear] | None = None
    """The model's last linear layer (where a fitted temperature is folded in)."""

    def logits(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The logits of a collated batch: ``pixel_values`` for the image models, landmarks for the landmark model."""
        if self.kind == "landmarks":
            output = model(landmarks=batch["landmarks"], hand_found=batch["hand_found"])
        elif self.kind == "cnn":
            output = model(pixel_values=batch["pixel_values"])
        else:
            output = model(batch["pixel_values"])
        return output.logits if hasattr(output, "logits") else output

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def build_cnn_bundle(spec: ModelSpec) -> ModelBundle:
    from ..models.asl_cnn import AslCnnConfig, AslCnnForImageClassification

    overrides = {}
    if spec.image_size:
        overrides["image_size"] = spec.image_size
    if spec.dropout is not None:
        overrides["dropout"] = spec.dropout
    config = AslCnnConfig(num_labels=len(CLASS_NAMES), id2label=ID2LABEL, label2id=LABEL2ID, **overrides)
    return _cnn_bundle(AslCnnForImageClassification(config))


def _cnn_bundle(model) -> ModelBundle:
    from ..models.asl_cnn import build_image_processor, save_cnn

    processor = build_image_processor(model.config)
    return ModelBundle(
        kind="cnn",
        model=model,
        spec=PreprocessSpec.from_cnn_config(model.config),
        save=lambda module, folder: save_cnn(module, processor, folder),
        groups={"all": list(model.parameters())},
        phases=[],
        description={"architecture": "asl_cnn"},
        head=lambda: model.classifier,
    )


def build_landmarks_bundle(spec: ModelSpec, model=None) -> ModelBundle:
    from ..models.asl_landmarks import AslLandmarksConfig, AslLandmarksForImageClassification, AslLandmarksImageProcessor, save_landmarks_model

    if model is None:
        overrides = {"dropout": spec.dropout} if spec.dropout is not None else {}
        config = AslLandmarksConfig(num_labels=len(CLASS_NAMES), id2label=ID2LABEL, label2id=LABEL2ID, **overrides)
        model = AslLandmarksForImageClassification(config)
        processor = AslLandmarksImageProcessor()
    else:
        processor = AslLandmarksImageProcessor.from_pretrained(spec.name, token=spec.token)
    return ModelBundle(
        kind="landmarks",
        model=model,
        spec=None,
        save=lambda module, folder: save_landmarks_model(module, processor, folder),
        groups={"all": list(model.parameters())},
        phases=[],
        description={"architecture": "asl_landmarks"},
        processor=processor,
        head=lambda: model.classifier,
    )


def build_mobilenetv2_bundle(spec: ModelSpec, schedule: ScheduleSpec, model=None) -> ModelBundle:
    from ..models import mobilenet

    if model is None:
        kwargs = {"num_labels": len(CLASS_NAMES), "label_names": CLASS_NAMES, "pretrained": spec.pretrained,
                  "image_size": spec.image_size, "pretrained_weights": spec.pretrained_weights}
        if spec.dropout is not None:
            kwargs["drop_rate"] = spec.dropout
        model = mobilenet.create_mobilenetv2(**kwargs)
    k = max(0, min(spec.unfreeze_blocks, len(model.blocks)))

    def enter_phase(phase: Phase) -> None:
        if phase.name == "head":
            mobilenet.freeze_backbone(model, train_bn_statistics=not spec.pretrained)
        else:
            # ImageNet BatchNorm statistics stay frozen while fine-tuning (small batches; Keras' fine-tuning advice).
            # Random weights have no statistics worth keeping: there the unfrozen blocks learn theirs.
            mobilenet.unfreeze_top_blocks(model, k, train_bn_statistics=not spec.pretrained)

    phases = [Phase("head", schedule.epochs, {"head": schedule.learning_rate}, ("head",))]
    if schedule.finetune_epochs > 0 and k > 0:
        lr = schedule.finetune_learning_rate
        phases.append(Phase("finetune", schedule.finetune_epochs, {"head": lr, "top": lr}, ("head", "top")))
    return ModelBundle(
        kind="mobilenetv2",
        model=model,
        spec=PreprocessSpec.from_timm_data_config(mobilenet.data_config(model)),
        save=lambda module, folder: mobilenet.save_mobilenetv2(module, folder, label_names=CLASS_NAMES),
        groups={"head": mobilenet.head_parameters(model), "top": mobilenet.top_block_parameters(model, k) if k else []},
        phases=phases,
        enter_phase=enter_phase,
        train_mode=mobilenet.set_train_mode,
        description={"architecture": model.pretrained_cfg.get("architecture", mobilenet.DEFAULT_MODEL_NAME), "unfreeze_blocks": k},
        # Only worth caching when the frozen part holds blocks (with every block unfrozen it is just the stem).
        frozen_prefix=(lambda: mobilenet.frozen_prefix(model, k)) if k < len(model.blocks) else None,
        top_of_network=(lambda: mobilenet.TopOfNetwork(model, k)) if k < len(model.blocks) else None,
        head=model.get_classifier,
    )


def build_model_bundle(spec: ModelSpec, schedule: ScheduleSpec) -> ModelBundle:
    """``cnn|mobilenetv2|landmarks`` builds a new model; a folder or Hub id continues from saved weights."""
    if spec.name == "cnn":
        bundle = build_cnn_bundle(spec)
    elif spec.name == "mobilenetv2":
        bundle = build_mobilenetv2_bundle(spec, schedule)
    elif spec.name == "landmarks":
        bundle = build_landmarks_bundle(spec)
    else:
        bundle = _load_saved(spec, schedule)
    if bundle.kind in ("cnn", "landmarks"):
        bundle.phases = [Phase("train", schedule.epochs, {"all": schedule.learning_rate}, ("all",))]
    return bundle


def _saved_config(spec: ModelSpec) -> dict:
    config_path = Path(spec.name) / "config.json"
    if config_path.is_file():
        return json.loads(config_path.read_text())
    try:
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(spec.name, "config.json", token=spec.token)).read_text())
    except Exception as error:
        raise AslError(f"--model {spec.name}: not cnn, mobilenetv2, landmarks, a model folder or a reachable Hub id ({type(error).__name__})") from error


def _load_saved(spec: ModelSpec, schedule: ScheduleSpec) -> ModelBundle:
    """Continue training a model saved by this project (local folder or Hub id)."""
    config = _saved_config(spec)
    if "architecture" in config:  # a timm folder
        from ..models.mobilenet import load_mobilenetv2

        return build_mobilenetv2_bundle(spec, schedule, model=load_mobilenetv2(spec.name))
    if config.get("model_type") == "asl_cnn":
        from ..models.asl_cnn import AslCnnForImageClassification

        return _cnn_bundle(AslCnnForImageClassification.from_pretrained(spec.name, token=spec.token))
    if config.get("model_type") == "asl_landmarks":
        from ..models.asl_landmarks import AslLandmarksForImageClassification

        return build_landmarks_bundle(spec, AslLandmarksForImageClassification.from_pretrained(spec.name, token=spec.token))
    raise AslError(f"--model {spec.name}: config.json is not an asl_cnn, asl_landmarks or timm model")
