"""timm MobileNetV2 for ASL: creation with ImageNet weights, saving in a folder both ecosystems load.

Head design. timm's MobileNetV2 head is ``conv_head`` (1x1 convolution 320 -> 1280, i.e. a dense layer applied
at every position) + BatchNorm + ReLU6 -> global average pooling -> dropout (``drop_rate``) -> ``classifier``
(1280 -> 29, raw logits). That is the mission's "global pooling, a dense layer, dropout, classifier", with the
dense projection placed before the pooling instead of after it. We keep timm's own head rather than bolting on
a custom ``nn.Sequential``, because only timm's own architecture is rebuilt from ``config.json`` by
``timm.create_model("hf-hub:...")`` *and* by transformers' ``TimmWrapper`` without custom code. In phase 1 the
"head" (``conv_head``, ``bn2``, ``classifier``) trains while everything else is frozen.

Known incompatibility (timm 1.0.31 with transformers 5.x): ``timm.models.save_for_hf`` records
``model_args.num_classes`` in ``config.json``; transformers' ``TimmWrapperForImageClassification`` passes
``num_classes=config.num_labels`` *and* ``**model_args`` to ``timm.create_model`` and fails with "got multiple
values for keyword argument 'num_classes'". ``save_mobilenetv2`` removes the duplicate from ``model_args``; the
root ``num_classes`` (which timm reads) stays. ``tests/test_mobilenet.py`` checks that the plain timm folder
still fails, so the workaround can go when the two libraries agree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import timm
from torch import nn

from ..constants import CLASS_NAMES
from ..errors import AslError

DEFAULT_MODEL_NAME = "mobilenetv2_100"
IMAGENET_CHECKPOINT = "timm/mobilenetv2_100.ra_in1k"
"""The ImageNet weights timm downloads for ``mobilenetv2_100`` (the ``base_model`` of our model card)."""


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
    try:
        model = timm.create_model(model_name, pretrained=pretrained, num_classes=num_labels, drop_rate=drop_rate)
    except Exception as error:  # hub errors differ by version (offline, connection, 401); all mean the same here
        if not pretrained:
            raise
        raise AslError(
            f"could not download the ImageNet weights of {model_name} from the Hub ({type(error).__name__}); "
            "connect to the internet, or train from random weights with --no_pretrained"
        ) from error
    if image_size:
        model.pretrained_cfg = {**model.pretrained_cfg, "input_size": (3, image_size, image_size)}
        model.pretrained_cfg.pop("test_input_size", None)
    names = label_names or (CLASS_NAMES if num_labels == len(CLASS_NAMES) else None)
    if names:
        model.pretrained_cfg = {**model.pretrained_cfg, "label_names": list(names)}
    return model


def data_config(model: nn.Module) -> dict:
    """Input size, mean/std, interpolation and crop fraction from timm (not hard-coded)."""
    return timm.data.resolve_model_data_config(model)


def head_modules(model: nn.Module) -> list[nn.Module]:
    """The modules trained in phase 1: the 1x1 projection, its BatchNorm and the classifier."""
    return [model.conv_head, model.bn2, model.get_classifier()]


def save_mobilenetv2(model: nn.Module, output_dir: str | os.PathLike, label_names: list[str] | None = None) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (no pickle) that load with timm and with transformers."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    names = list(label_names or model.pretrained_cfg.get("label_names") or CLASS_NAMES[: model.num_classes])
    timm.models.save_for_hf(model, str(output_dir), model_config={"label_names": names}, safe_serialization=True)
    config_path = output_dir / "config.json"
    config = json.loads(config_path.read_text())
    config.get("model_args", {}).pop("num_classes", None)  # see the module docstring
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    return output_dir


def load_mobilenetv2(path_or_repo_id: str) -> nn.Module:
    """Load a saved model with timm alone: a local folder or a Hub repo id."""
    name = f"local-dir:{path_or_repo_id}" if Path(path_or_repo_id).is_dir() else f"hf-hub:{path_or_repo_id}"
    return timm.create_model(name, pretrained=True)  # pretrained=True loads the saved weights, not ImageNet

