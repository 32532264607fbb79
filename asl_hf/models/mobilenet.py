"""timm MobileNetV2 for ASL: creation, two-phase freezing, and a saved folder that timm and transformers both load.

Head design. timm's MobileNetV2 ends in ``conv_head`` (a 1x1 convolution 320 -> 1280, i.e. a dense layer applied at
every position) + BatchNorm + ReLU6 -> global average pooling -> dropout (``drop_rate``) -> ``classifier`` (1280 -> 29,
raw logits). We use that as the "global pooling, dense layer, dropout, 29-way classifier" head, with the dense layer
before the pooling rather than after it (a linear layer commutes with average pooling; only the BatchNorm + ReLU6
sit on the other side). timm 1.0.31 has no model argument for a dense layer after the pooling (``num_features`` is
fixed by the MobileNetV2 builder, ``head_hidden_size`` is not an argument), and a custom ``nn.Sequential`` head would
not be rebuilt from ``config.json`` by ``timm.create_model("hf-hub:...")`` or transformers' ``TimmWrapper`` without
custom code. In phase 1 the head (``conv_head``, ``bn2``, ``classifier``) trains on top of the frozen backbone.

Freezing keeps the modules as they are (``requires_grad`` plus BatchNorm layers held in inference mode by
:func:`set_train_mode`) instead of timm's ``freeze``, which swaps in ``FrozenBatchNormAct2d``: that drops the
``num_batches_tracked`` keys from the state dict and replaces parameters an optimiser may already hold.

Known incompatibility (timm 1.0.31 with transformers 5.x): ``timm.models.save_for_hf`` records
``model_args.num_classes`` in ``config.json``; transformers' ``TimmWrapperForImageClassification`` passes
``num_classes=config.num_labels`` *and* ``**model_args`` to ``timm.create_model`` and fails with "got multiple
values for keyword argument 'num_classes'". :func:`save_mobilenetv2` removes the duplicate from ``model_args``; the
root ``num_classes`` (which both loaders read) stays. ``tests/test_mobilenet.py`` checks that the plain timm folder
still fails, so the workaround can go when the two libraries agree.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import httpx
import timm
from huggingface_hub.errors import EntryNotFoundError
from timm.layers import FrozenBatchNormAct2d, unfreeze_batch_norm_2d
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

from ..constants import CLASS_NAMES
from ..errors import AslError

__all__ = [
    "DEFAULT_MODEL_NAME",
    "IMAGENET_CHECKPOINT",
    "create_mobilenetv2",
    "data_config",
    "freeze_backbone",
    "head_modules",
    "head_parameters",
    "load_mobilenetv2",
    "save_mobilenetv2",
    "set_train_mode",
    "top_block_parameters",
    "trainable_parameters",
    "unfreeze_top_blocks",
]

DEFAULT_MODEL_NAME = "mobilenetv2_100"
IMAGENET_CHECKPOINT = "timm/mobilenetv2_100.ra_in1k"
"""The ImageNet weights timm downloads for ``mobilenetv2_100`` (the ``base_model`` of our model card)."""

FROZEN_STATISTICS = "asl_frozen_statistics"
"""Attribute set on BatchNorm layers whose running statistics must not move (read by :func:`set_train_mode`)."""

_HUB_ERRORS = (OSError, EntryNotFoundError, httpx.HTTPError)
"""What a Hub download raises when offline, unreachable or refused (huggingface_hub 2.x)."""


def create_mobilenetv2(
    num_labels: int = len(CLASS_NAMES),
    label_names: list[str] | None = None,
    pretrained: bool = True,
    drop_rate: float = 0.2,
    image_size: int | None = None,
    model_name: str = DEFAULT_MODEL_NAME,
) -> nn.Module:
    """MobileNetV2 with a new ``num_labels``-way classifier (ImageNet backbone weights unless ``pretrained=False``).

    ``image_size`` changes the input size recorded in the model's data config (MobileNetV2 accepts any size),
    so training, the saved config and every loader agree on it.
    """
    if not timm.is_model(model_name):
        raise AslError(f"unknown timm model {model_name!r}")
    if pretrained and not timm.models.is_model_pretrained(model_name):
        raise AslError(f"timm has no pretrained weights for {model_name}; train from random weights with --no_pretrained")
    try:
        model = timm.create_model(model_name, pretrained=pretrained, num_classes=num_labels, drop_rate=drop_rate)
    except _HUB_ERRORS as error:
        if not pretrained:
            raise
        checkpoint = timm.models.get_pretrained_cfg(model_name).hf_hub_id or model_name
        raise AslError(
            f"could not get the ImageNet weights of {model_name} ({checkpoint}) from the Hugging Face Hub "
            f"({type(error).__name__}); connect to the internet, or train from random weights with --no_pretrained"
        ) from error
    cfg = dict(model.pretrained_cfg)
    if image_size:
        cfg["input_size"] = (3, image_size, image_size)
        for stale in ("test_input_size", "pool_size"):  # described the ImageNet resolution
            cfg.pop(stale, None)
    names = label_names or (CLASS_NAMES if num_labels == len(CLASS_NAMES) else None)
    if names:
        if len(names) != num_labels:
            raise AslError(f"{len(names)} label names for a {num_labels}-way classifier")
        cfg["label_names"] = list(names)
    model.pretrained_cfg = cfg
    return model


def data_config(model: nn.Module) -> dict:
    """Input size, mean/std, interpolation and crop fraction from timm (not hard-coded)."""
    return timm.data.resolve_model_data_config(model)


# --- two-phase training -------------------------------------------------------------------------------------------

def head_modules(model: nn.Module) -> list[nn.Module]:
    """The modules trained in phase 1: the 1x1 projection (dense layer), its BatchNorm and the classifier."""
    return [model.conv_head, model.bn2, model.get_classifier()]


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for module in head_modules(model) for p in module.parameters()]


def _top_blocks(model: nn.Module, k: int) -> list[nn.Module]:
    blocks = list(model.blocks)
    if not 0 <= k <= len(blocks):
        raise AslError(f"unfreeze_blocks={k}: {model.pretrained_cfg.get('architecture', 'the model')} has {len(blocks)} blocks; choose 0..{len(blocks)}")
    return blocks[len(blocks) - k :]


def top_block_parameters(model: nn.Module, k: int) -> list[nn.Parameter]:
    """Parameters of the last ``k`` stages of ``model.blocks`` (the ones phase 2 fine-tunes)."""
    return [p for block in _top_blocks(model, k) for p in block.parameters()]


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def _is_batch_norm(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.batchnorm._BatchNorm)  # includes timm's BatchNormAct2d


def freeze_backbone(model: nn.Module) -> nn.Module:
    """Phase 1: only the head trains; every backbone BatchNorm keeps its ImageNet statistics.

    Call :func:`set_train_mode` instead of ``model.train()`` so the frozen statistics stay frozen.
    """
    model.requires_grad_(False)
    for param in head_parameters(model):
        param.requires_grad_(True)
    head = {id(sub) for module in head_modules(model) for sub in module.modules()}
    for module in model.modules():
        if _is_batch_norm(module):
            setattr(module, FROZEN_STATISTICS, id(module) not in head)
    return model


def unfreeze_top_blocks(model: nn.Module, k: int, train_bn_statistics: bool = True) -> nn.Module:
    """Phase 2: the head and the last ``k`` stages of ``model.blocks`` train; the rest stays frozen.

    The BatchNorm layers of those stages train their scale and shift, and their running statistics too unless
    ``train_bn_statistics=False`` (Keras' fine-tuning advice for small batches: keep them in inference mode).
    """
    top = _top_blocks(model, k)
    freeze_backbone(model)
    for block in top:
        block.requires_grad_(True)
        for module in block.modules():
            if _is_batch_norm(module):
                setattr(module, FROZEN_STATISTICS, not train_bn_statistics)
    return model


def set_train_mode(model: nn.Module, mode: bool = True) -> nn.Module:
    """``model.train(mode)``, but BatchNorm layers frozen by this module stay in inference mode."""
    model.train(mode)
    if mode:
        for module in model.modules():
            if getattr(module, FROZEN_STATISTICS, False):
                module.eval()
    return model


# --- saving and loading -------------------------------------------------------------------------------------------

def _with_plain_batch_norm(model: nn.Module) -> nn.Module:
    """A copy with timm's ``FrozenBatchNorm*`` turned back into BatchNorm, so the state dict has the standard keys."""
    if not any(isinstance(m, (FrozenBatchNorm2d, FrozenBatchNormAct2d)) for m in model.modules()):
        return model
    return unfreeze_batch_norm_2d(copy.deepcopy(model))


def save_mobilenetv2(model: nn.Module, output_dir: str | os.PathLike, label_names: list[str] | None = None) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (no pickle) that load with timm and with transformers.

    ``config.json`` holds the label names (transformers' ``id2label``), the input size and normalisation
    (``pretrained_cfg``, read by timm's data config and ``TimmWrapperImageProcessor``) and the dropout rate.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    names = list(label_names or model.pretrained_cfg.get("label_names") or CLASS_NAMES[: model.num_classes])
    if len(names) != model.num_classes:
        raise AslError(f"{output_dir}: {len(names)} label names for a {model.num_classes}-way classifier")
    timm.models.save_for_hf(
        _with_plain_batch_norm(model),
        str(output_dir),
        model_config={"label_names": names},
        model_args={"drop_rate": model.drop_rate},  # timm leaves drop rates out unless given; they are part of the head
        safe_serialization=True,
    )
    config_path = output_dir / "config.json"
    config = json.loads(config_path.read_text())
    config.get("model_args", {}).pop("num_classes", None)  # see the module docstring
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    return output_dir


def load_mobilenetv2(path_or_repo_id: str | os.PathLike) -> nn.Module:
    """Load a saved model with timm alone: a local folder or a Hub repo id (``user/repo``)."""
    path = Path(path_or_repo_id)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise AslError(f"{path}: no config.json, not a saved MobileNetV2 folder")
        return timm.create_model(f"local-dir:{path}", pretrained=True)  # pretrained=True: the saved weights
    try:
        return timm.create_model(f"hf-hub:{path_or_repo_id}", pretrained=True)
    except _HUB_ERRORS as error:
        raise AslError(f"{path_or_repo_id}: not a local folder, and could not load it from the Hub ({type(error).__name__})") from error
