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

Where the ImageNet weights come from: timm downloads ``timm/mobilenetv2_100.ra_in1k`` through ``huggingface_hub``, so
a Hugging Face cache that holds it (``HF_HUB_CACHE``, with ``HF_HUB_OFFLINE=1`` to skip the Hub) works offline, and
``pretrained_weights=PATH`` (``--pretrained_weights``) loads a local safetensors file through timm's own ``file``
override of the pretrained config. :func:`describe_pretrained_source` says which source a run will use, before the
model is built, and fails with one line naming the ways out when there is none.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import httpx
import timm
import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import get_hf_file_metadata, hf_hub_url, try_to_load_from_cache
from huggingface_hub.errors import EntryNotFoundError
from timm.layers import FrozenBatchNormAct2d, unfreeze_batch_norm_2d
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

from ..core.constants import CLASS_NAMES
from ..core.errors import AslError

__all__ = [
    "DEFAULT_MODEL_NAME",
    "IMAGENET_CHECKPOINT",
    "create_mobilenetv2",
    "data_config",
    "describe_pretrained_source",
    "freeze_backbone",
    "frozen_prefix",
    "TopOfNetwork",
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

try:  # huggingface_hub 2.x talks through httpx2, whose errors are not httpx's
    import httpx2

    _HTTP_ERRORS: tuple[type[BaseException], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:
    _HTTP_ERRORS = (httpx.HTTPError,)

_HUB_ERRORS = (OSError, EntryNotFoundError, *_HTTP_ERRORS)
"""What a Hub download raises when offline, unreachable or refused (huggingface_hub 2.x)."""

_TIMM_HUB_FILES = ("model.safetensors", "pytorch_model.bin")
"""What timm asks the Hub (or the cache) for, in this order, when the pretrained config names no file."""


def create_mobilenetv2(
    num_labels: int = len(CLASS_NAMES),
    label_names: list[str] | None = None,
    pretrained: bool = True,
    drop_rate: float = 0.2,
    image_size: int | None = None,
    model_name: str = DEFAULT_MODEL_NAME,
    pretrained_weights: str | os.PathLike | None = None,
) -> nn.Module:
    """MobileNetV2 with a new ``num_labels``-way classifier (ImageNet backbone weights unless ``pretrained=False``).

    The weights come from timm's Hub checkpoint (downloaded, or found in the local Hugging Face cache), or from
    ``pretrained_weights``: a local ``.safetensors`` file of ``model_name`` (timm's keys; its classifier is dropped
    when ``num_labels`` differs, as timm does for Hub weights). ``image_size`` changes the input size recorded in
    the model's data config (MobileNetV2 accepts any size), so training, the saved config and every loader agree on it.
    """
    if not timm.is_model(model_name):
        raise AslError(f"unknown timm model {model_name!r}")
    if pretrained_weights is not None:
        if not pretrained:
            raise AslError("give either --pretrained_weights or --no_pretrained, not both")
        path = _check_weights_file(pretrained_weights, model_name, num_labels)
        try:
            model = timm.create_model(model_name, pretrained=True, num_classes=num_labels, drop_rate=drop_rate,
                                      pretrained_cfg_overlay={"file": str(path)})
        except (OSError, RuntimeError, ValueError) as error:  # checked above; a file that changed since, or unreadable
            raise AslError(f"--pretrained_weights {path}: could not load it into {model_name} ({type(error).__name__}: {_first_line(error)})") from error
    else:
        if pretrained and not timm.models.is_model_pretrained(model_name):
            raise AslError(f"timm has no pretrained weights for {model_name}; train from random weights with --no_pretrained")
        try:
            model = timm.create_model(model_name, pretrained=pretrained, num_classes=num_labels, drop_rate=drop_rate)
        except _HUB_ERRORS as error:
            if not pretrained:
                raise
            raise AslError(_no_weights_message(model_name, type(error).__name__)) from error
    cfg = dict(model.pretrained_cfg)
    cfg.pop("file", None)  # where this run's weights came from, not part of the model
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


# --- where the pretrained weights come from ------------------------------------------------------------------------

def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0][:200]


def _hub_checkpoint(model_name: str) -> str:
    """The Hub repo timm downloads ``model_name``'s default weights from (``user/name[@revision]``)."""
    cfg = timm.models.get_pretrained_cfg(model_name)
    return (cfg.hf_hub_id if cfg else None) or model_name


def _no_weights_message(model_name: str, reason: str) -> str:
    """One line: why the ImageNet weights are out of reach, and the ways out."""
    checkpoint = _hub_checkpoint(model_name)
    hub = "HF_HUB_OFFLINE=1" if hf_constants.HF_HUB_OFFLINE else reason
    return (
        f"could not get the ImageNet weights of {model_name} ({checkpoint}): not from the Hugging Face Hub ({hub}) and "
        f"not in the local Hugging Face cache at {hf_constants.HF_HUB_CACHE}; connect to the internet, point HF_HUB_CACHE "
        f"at a cache that holds {checkpoint} (with HF_HUB_OFFLINE=1), give a local safetensors file with "
        f"--pretrained_weights PATH, or train from random weights with --no_pretrained"
    )


def _check_weights_file(pretrained_weights: str | os.PathLike, model_name: str, num_labels: int) -> Path:
    """Check that a local file holds safetensors weights for ``model_name`` (header only; no tensor is read).

    The classifier may differ (or be absent) when ``num_labels`` differs from the checkpoint's classes: timm drops it
    then. BatchNorm ``num_batches_tracked`` counters may be absent. Every other key must be there with its shape."""
    from safetensors import safe_open

    path = Path(pretrained_weights).expanduser()
    if not path.is_file():
        raise AslError(f"--pretrained_weights {path}: no such file (expected a .safetensors file of timm's {model_name})")
    if path.suffix != ".safetensors":
        raise AslError(f"--pretrained_weights {path}: not a .safetensors file (timm's {model_name} weights in safetensors format are expected)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except Exception as error:  # safetensors raises its own SafetensorError (not an OSError) for a bad header
        raise AslError(f"--pretrained_weights {path}: not a readable safetensors file ({_first_line(error)})") from error
    with torch.device("meta"):  # the expected keys and shapes, without allocating or initialising weights
        reference = timm.create_model(model_name, pretrained=False, num_classes=num_labels)
    expected = {key: tuple(value.shape) for key, value in reference.state_dict().items()}
    cfg = timm.models.get_pretrained_cfg(model_name)
    classifier = cfg.classifier if cfg else None
    classifiers = (classifier,) if isinstance(classifier, str) else tuple(classifier or ())
    optional = set()
    if cfg is None or num_labels != cfg.num_classes:  # timm drops the checkpoint's classifier: it may be anything
        optional = {key for name in classifiers for key in (f"{name}.weight", f"{name}.bias")}
    missing = [k for k in expected if k not in shapes and k not in optional and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in shapes if k not in expected and k not in optional]
    wrong = [f"{k} {list(shapes[k])} (expected {list(expected[k])})" for k in shapes
             if k in expected and k not in optional and shapes[k] != expected[k]]
    if missing or unexpected or wrong:
        parts = [f"{len(items)} {what} (first: {items[0]})" for what, items in
                 (("missing keys", missing), ("unexpected keys", unexpected), ("keys of the wrong shape", wrong)) if items]
        raise AslError(f"--pretrained_weights {path}: not weights of timm's {model_name}: {'; '.join(parts)}")
    return path


def describe_pretrained_source(model_name: str = DEFAULT_MODEL_NAME, pretrained_weights: str | os.PathLike | None = None) -> str:
    """Say where :func:`create_mobilenetv2` will get the pretrained weights from, or raise a one-line :class:`AslError`.

    Checked without downloading the weights: a local file by its safetensors header; the Hugging Face cache with
    ``try_to_load_from_cache`` (``HF_HUB_CACHE``); the Hub with one metadata request. Under ``HF_HUB_OFFLINE=1`` only the
    cache counts. The order follows timm: the Hub when it answers, else the cache."""
    if pretrained_weights is not None:
        path = _check_weights_file(pretrained_weights, model_name, len(CLASS_NAMES))
        return f"ImageNet weights from the local file {path} (--pretrained_weights)"
    if not timm.is_model(model_name):
        raise AslError(f"unknown timm model {model_name!r}")
    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None or not timm.models.is_model_pretrained(model_name):
        raise AslError(f"timm has no pretrained weights for {model_name}; train from random weights with --no_pretrained")
    if not cfg.hf_hub_id:  # a plain URL checkpoint (not mobilenetv2_100): timm's own download cache, not checked here
        return f"ImageNet weights of {model_name} from {cfg.url} (timm's download)"
    checkpoint = cfg.hf_hub_id
    repo_id, _, revision = checkpoint.partition("@")
    revision = revision or None
    filenames = (cfg.hf_hub_filename,) if cfg.hf_hub_filename else _TIMM_HUB_FILES
    cache = hf_constants.HF_HUB_CACHE

    def cached(commit: str | None = revision) -> str | None:
        for filename in filenames:
            found = try_to_load_from_cache(repo_id, filename, cache_dir=cache, revision=commit)
            if isinstance(found, str):
                return found
        return None

    if hf_constants.HF_HUB_OFFLINE:
        if cached():
            return f"ImageNet weights {checkpoint} from the local Hugging Face cache at {cache} (offline)"
        raise AslError(_no_weights_message(model_name, "offline"))
    reason = "not found"
    for filename in filenames:
        try:
            metadata = get_hf_file_metadata(hf_hub_url(repo_id, filename, revision=revision), timeout=10)
        except EntryNotFoundError:
            continue
        except _HUB_ERRORS as error:
            reason = f"unreachable: {type(error).__name__}"
            break
        in_cache = " (already in the local cache)" if metadata.commit_hash and cached(metadata.commit_hash) else ""
        return f"ImageNet weights {checkpoint} from the Hugging Face Hub ({hf_constants.ENDPOINT}){in_cache}"
    if cached():
        return (f"ImageNet weights {checkpoint} from the local Hugging Face cache at {cache} (Hub {reason}; "
                f"set HF_HUB_OFFLINE=1 to skip timm's retries)")
    raise AslError(_no_weights_message(model_name, reason))


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


def freeze_backbone(model: nn.Module, train_bn_statistics: bool = True) -> nn.Module:
    """Phase 1: only the head trains; every backbone BatchNorm keeps its ImageNet statistics.

    The head's BatchNorm (``bn2``) trains its scale and shift, and its running statistics too unless
    ``train_bn_statistics=False``: with ImageNet weights its statistics are part of what was learned (and in
    BatchNorm-folded checkpoints they are identity), so re-estimating them from 32-image batches throws away the
    pretrained projection; that is what held phase 1 at 44% validation accuracy on real photos.
    Call :func:`set_train_mode` instead of ``model.train()`` so the frozen statistics stay frozen.
    """
    model.requires_grad_(False)
    for param in head_parameters(model):
        param.requires_grad_(True)
    head = {id(sub) for module in head_modules(model) for sub in module.modules()}
    for module in model.modules():
        if _is_batch_norm(module):
            setattr(module, FROZEN_STATISTICS, id(module) not in head or not train_bn_statistics)
    return model


def unfreeze_top_blocks(model: nn.Module, k: int, train_bn_statistics: bool = True) -> nn.Module:
    """Phase 2: the head and the last ``k`` stages of ``model.blocks`` train; the rest stays frozen.

    The BatchNorm layers of those stages train their scale and shift, and their running statistics too unless
    ``train_bn_statistics=False`` (Keras' fine-tuning advice for small batches: keep them in inference mode).
    """
    top = _top_blocks(model, k)
    freeze_backbone(model, train_bn_statistics)
    for block in top:
        block.requires_grad_(True)
        for module in block.modules():
            if _is_batch_norm(module):
                setattr(module, FROZEN_STATISTICS, not train_bn_statistics)
    return model


def frozen_prefix(model: nn.Module, k: int) -> nn.Sequential:
    """The part of the network no phase trains when the top ``k`` blocks are fine-tuned: stem and the other blocks.

    Its output can be computed once per (augmented) image and cached (see ``asl_hf.training.feature_cache``)."""
    blocks = list(model.blocks)
    return nn.Sequential(model.conv_stem, model.bn1, *blocks[: len(blocks) - len(_top_blocks(model, k))])


class TopOfNetwork(nn.Module):
    """The rest of the network after :func:`frozen_prefix`: the top ``k`` blocks, the head and the classifier.

    It shares its parameters with ``model``, so training it trains ``model``; for any input,
    ``TopOfNetwork(model, k)(frozen_prefix(model, k)(x))`` equals ``model(x)``."""

    def __init__(self, model: nn.Module, k: int):
        super().__init__()
        self.model = model
        self.top = nn.Sequential(*_top_blocks(model, k))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.bn2(self.model.conv_head(self.top(features))))


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
