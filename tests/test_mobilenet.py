"""timm MobileNetV2: both loaders (timm, transformers' TimmWrapper), the num_classes incompatibility, phases."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoImageProcessor, AutoModelForImageClassification, pipeline

from asl_hf.core.constants import CLASS_NAMES
from asl_hf.core.errors import AslError
from asl_hf.models.mobilenet import (
    create_mobilenetv2,
    data_config,
    freeze_backbone,
    head_parameters,
    load_mobilenetv2,
    save_mobilenetv2,
    set_train_mode,
    top_block_parameters,
    trainable_parameters,
    unfreeze_top_blocks,
)

HEAD_PREFIXES = ("conv_head.", "bn2.", "classifier.")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    model = create_mobilenetv2(pretrained=False, image_size=96).eval()
    folder = save_mobilenetv2(model, tmp_path_factory.mktemp("mnv2") / "model")
    return model, folder


def photo(width: int = 230, height: int = 150) -> Image.Image:
    """A non-square RGB image, so resizing and centre cropping both matter."""
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def train_step(model, size: int = 64) -> None:
    optimizer = torch.optim.SGD(trainable_parameters(model), lr=0.1)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, size, size)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()


def running_means(model) -> dict[str, torch.Tensor]:
    return {name: b.clone() for name, b in model.named_buffers() if name.endswith("running_mean")}


def changed(before: dict[str, torch.Tensor], model) -> set[str]:
    after = dict(model.named_buffers())
    return {name.rsplit(".", 1)[0] for name, value in before.items() if not torch.equal(value, after[name])}


def test_plain_timm_folder_breaks_timm_wrapper(tmp_path):
    """The known timm 1.0.31 / transformers 5 incompatibility. If this stops failing, the workaround can go."""
    model = create_mobilenetv2(pretrained=False, image_size=64)
    timm.models.save_for_hf(model, str(tmp_path), model_config={"label_names": CLASS_NAMES}, safe_serialization=True)
    assert json.loads((tmp_path / "config.json").read_text())["model_args"]["num_classes"] == 29
    with pytest.raises(TypeError, match="multiple values for keyword argument 'num_classes'"):
        AutoModelForImageClassification.from_pretrained(tmp_path)


def test_saved_folder_loads_in_timm_and_transformers_with_identical_logits(saved):
    model, folder = saved
    assert {p.name for p in folder.iterdir()} == {"config.json", "model.safetensors"}
    config = json.loads((folder / "config.json").read_text())
    assert config["num_classes"] == 29 and "num_classes" not in config["model_args"]
    assert config["model_args"]["drop_rate"] == 0.2
    assert config["label_names"] == CLASS_NAMES and config["pretrained_cfg"]["input_size"] == [3, 96, 96]

    timm_model = load_mobilenetv2(folder).eval()
    hf_model = AutoModelForImageClassification.from_pretrained(folder).eval()
    assert type(hf_model).__name__ == "TimmWrapperForImageClassification"
    assert [hf_model.config.id2label[i] for i in range(29)] == CLASS_NAMES
    assert timm_model.drop_rate == 0.2 and data_config(timm_model)["input_size"] == (3, 96, 96)
    pixels = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = model(pixels)
        torch.testing.assert_close(timm_model(pixels), expected)
        torch.testing.assert_close(hf_model(pixel_values=pixels).logits, expected)


def test_processor_equals_timm_eval_transform_and_pipeline_works(saved):
    model, folder = saved
    image = photo()
    ours = AutoImageProcessor.from_pretrained(folder)(image, return_tensors="pt")["pixel_values"][0]
    theirs = timm.data.create_transform(**data_config(model), is_training=False)(image)
    assert ours.shape == (3, 96, 96)
    torch.testing.assert_close(ours, theirs)
    scores = pipeline("image-classification", model=str(folder), device="cpu")(image, top_k=29)
    assert sorted(s["label"] for s in scores) == sorted(CLASS_NAMES)
    assert sum(s["score"] for s in scores) == pytest.approx(1, abs=1e-4)


def test_pretrained_without_network_gives_a_clear_error(tmp_path):
    code = textwrap.dedent(
        """
        from asl_hf.core.errors import AslError
        from asl_hf.models.mobilenet import create_mobilenetv2
        try:
            create_mobilenetv2(pretrained=True)
        except AslError as error:
            print(error)
        """
    )
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert "ImageNet weights" in result.stdout and "--no_pretrained" in result.stdout


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(AslError, match="unknown timm model"):
        create_mobilenetv2(pretrained=False, model_name="mobilenetv9")
    with pytest.raises(AslError, match="3 label names for a 29-way"):
        create_mobilenetv2(pretrained=False, label_names=["a", "b", "c"])
    with pytest.raises(AslError, match="no config.json"):
        load_mobilenetv2(tmp_path)


def test_phase_one_trains_only_the_head_and_keeps_backbone_batchnorm_statistics():
    torch.manual_seed(0)
    model = create_mobilenetv2(pretrained=False, image_size=64)
    keys = list(model.state_dict())
    freeze_backbone(model)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        n for n, _ in model.named_parameters() if n.startswith(HEAD_PREFIXES)
    }
    assert {id(p) for p in trainable_parameters(model)} == {id(p) for p in head_parameters(model)}

    model.train()  # what set_train_mode must undo for the backbone
    set_train_mode(model)
    assert model.training and model.classifier.training and not model.blocks[0][0].bn1.training
    stats = running_means(model)
    backbone = {n: p.clone() for n, p in model.named_parameters() if not n.startswith(HEAD_PREFIXES)}
    train_step(model)
    assert changed(stats, model) == {"bn2"}  # the head's BatchNorm learns, the backbone's does not
    assert all(torch.equal(p, backbone[n]) for n, p in model.named_parameters() if n in backbone)
    assert list(model.state_dict()) == keys  # saving works in any phase


def test_phase_two_unfreezes_exactly_the_top_blocks_and_their_batchnorm():
    torch.manual_seed(0)
    model = create_mobilenetv2(pretrained=False, image_size=64)
    keys = list(model.state_dict())
    last = len(model.blocks)
    freeze_backbone(model)
    unfreeze_top_blocks(model, 2)
    top = (f"blocks.{last - 2}.", f"blocks.{last - 1}.")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in model.named_parameters() if n.startswith(HEAD_PREFIXES + top)}
    assert {id(p) for p in top_block_parameters(model, 2)} == {
        id(p) for n, p in model.named_parameters() if n.startswith(top)
    }

    set_train_mode(model)
    stats = running_means(model)
    train_step(model)
    moved = changed(stats, model)
    assert "bn2" in moved and any(m.startswith(top) for m in moved)
    assert all(m == "bn2" or m.startswith(top) for m in moved)
    assert list(model.state_dict()) == keys

    unfreeze_top_blocks(model, 2, train_bn_statistics=False)  # Keras-style: affine trains, statistics frozen
    set_train_mode(model)
    stats = running_means(model)
    train_step(model)
    assert changed(stats, model) == set()  # the head's BatchNorm keeps its (ImageNet) statistics too

    freeze_backbone(model, train_bn_statistics=True)  # from random weights the head learns its statistics
    set_train_mode(model)
    stats = running_means(model)
    train_step(model)
    assert changed(stats, model) == {"bn2"}

    unfreeze_top_blocks(model, 0)
    assert {id(p) for p in trainable_parameters(model)} == {id(p) for p in head_parameters(model)}
    with pytest.raises(AslError, match=f"has {last} blocks"):
        unfreeze_top_blocks(model, last + 1)


def test_a_model_frozen_by_timm_saves_with_the_standard_keys(tmp_path):
    """timm's own ``freeze`` swaps in FrozenBatchNormAct2d (no ``num_batches_tracked``); saving converts it back."""
    from timm.utils.model import freeze

    torch.manual_seed(0)
    model = create_mobilenetv2(pretrained=False, image_size=64)
    keys = set(model.state_dict())
    freeze(model, ["conv_stem", "bn1", "blocks"])
    assert set(model.state_dict()) != keys
    save_mobilenetv2(model.eval(), tmp_path)
    assert set(load_file(tmp_path / "model.safetensors")) == keys
    loaded = load_mobilenetv2(tmp_path).eval()
    pixels = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(pixels), model(pixels))
