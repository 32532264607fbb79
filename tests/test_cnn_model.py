"""The custom CNN as a transformers model: save/load, remote code without asl_hf, pipeline, learning, input checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

from asl_hf.core.constants import CLASS_NAMES, ID2LABEL
from asl_hf.data.synthetic import render_example
from asl_hf.models import AslCnnConfig, AslCnnForImageClassification, build_image_processor, save_cnn
from asl_hf.models.preprocessing import PreprocessSpec, build_eval_transform
from tests.isolation import BLOCK_ASL_HF

SMALL = {"image_size": 32, "conv_channels": [8, 16], "hidden_size": 16}


def save_model(folder, config=None, seed=0):
    torch.manual_seed(seed)
    model = AslCnnForImageClassification(config or AslCnnConfig()).eval()
    save_cnn(model, build_image_processor(model.config), folder)
    return model


def test_default_config_is_the_reference_shape_with_batch_norm():
    config = AslCnnConfig()
    assert (config.image_size, config.num_channels, config.conv_channels, config.kernel_sizes, config.hidden_size) == (64, 3, [32, 64], [3, 3], 256)
    assert config.use_batch_norm is True
    assert config.id2label == ID2LABEL and config.label2id["space"] == 28 and config.num_labels == 29
    assert config.feature_map_sizes() == [31, 14]  # 64 -conv-> 62 -pool-> 31 -conv-> 29 -pool-> 14
    model = AslCnnForImageClassification(config)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(32, (3, 3)), (64, (3, 3))]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 2
    assert isinstance(model.dense_norm, torch.nn.BatchNorm1d)  # what lets the 12,544-input dense layer learn
    assert (model.dense.in_features, model.dense.out_features, model.classifier.out_features) == (64 * 14 * 14, 256, 29)
    # conv1 896 + BN 64 + conv2 18,496 + BN 128 + dense 3,211,520 + BN 512 + classifier 7,453
    assert sum(p.numel() for p in model.parameters()) == 3_239_069


def test_reference_architecture_is_one_config_away():
    """The Keras reference network (no BatchNorm, 64-unit dense layer) stays available for comparison."""
    model = AslCnnForImageClassification(AslCnnConfig(use_batch_norm=False, hidden_size=64))
    assert not any(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in model.modules())
    # conv1 896 + conv2 18,496 + dense 802,880 + classifier 1,885
    assert sum(p.numel() for p in model.parameters()) == 824_157


def test_save_and_load_give_identical_logits_safetensors_only(tmp_path):
    model = save_model(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"config.json", "model.safetensors", "configuration_asl_cnn.py", "modeling_asl_cnn.py", "preprocessor_config.json"}
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "asl_cnn"
    assert config["auto_map"] == {
        "AutoConfig": "configuration_asl_cnn.AslCnnConfig",
        "AutoModelForImageClassification": "modeling_asl_cnn.AslCnnForImageClassification",
    }
    assert json.loads((tmp_path / "preprocessor_config.json").read_text())["image_processor_type"] == "ViTImageProcessor"
    reloaded = AutoModelForImageClassification.from_pretrained(tmp_path).eval()
    assert type(reloaded) is AslCnnForImageClassification
    pixels = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(pixel_values=pixels).logits, reloaded(pixel_values=pixels).logits)


def test_loads_with_remote_code_where_asl_hf_is_not_importable(tmp_path):
    source = tmp_path / "saved"
    model = save_model(source)
    fresh = tmp_path / "fresh" / "copy"
    shutil.copytree(source, fresh)
    image = render_example(4, 1, 120)
    image.save(tmp_path / "probe.png")
    with torch.no_grad():
        expected = model(pixel_values=build_eval_transform(PreprocessSpec.from_cnn_config(model.config))(image)[None]).logits[0]
    torch.save(expected, tmp_path / "expected.pt")
    # asl_hf is installed editable in the venv: a meta-path finder placed first makes every import of it fail.
    code = BLOCK_ASL_HF + textwrap.dedent(
        f"""
        import sys
        try:
            import asl_hf
        except ModuleNotFoundError:
            pass
        else:
            raise SystemExit("asl_hf is importable: the test would prove nothing")
        import torch
        from PIL import Image
        from transformers import AutoModelForImageClassification, AutoImageProcessor, pipeline
        folder = {str(fresh)!r}
        model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True).eval()
        processor = AutoImageProcessor.from_pretrained(folder)
        image = Image.open({str(tmp_path / "probe.png")!r})
        with torch.no_grad():
            logits = model(**processor(image, return_tensors="pt")).logits[0]
        torch.testing.assert_close(logits, torch.load({str(tmp_path / "expected.pt")!r}), atol=1e-5, rtol=1e-5)
        scores = pipeline("image-classification", model=folder, trust_remote_code=True, device="cpu")(image, top_k=29)
        assert sorted(s["label"] for s in scores) == sorted({CLASS_NAMES!r}), scores
        assert abs(sum(s["score"] for s in scores) - 1) < 1e-4
        torch.testing.assert_close(torch.tensor([s["score"] for s in scores]), logits.softmax(-1).sort(descending=True).values)
        assert scores[0]["label"] == model.config.id2label[int(logits.argmax())]
        assert "asl_hf" not in sys.modules
        print("ok", type(model).__module__)
        """
    )
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path / "fresh",
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok transformers_modules"), result.stdout


def test_saved_processor_matches_the_eval_transform(tmp_path):
    """What the pipeline uses (AutoImageProcessor on the saved folder) against the training eval transform."""
    config = AslCnnConfig()
    build_image_processor(config).save_pretrained(tmp_path)
    processor = AutoImageProcessor.from_pretrained(tmp_path)
    transform = build_eval_transform(PreprocessSpec.from_cnn_config(config))
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (150, 200, 3), dtype=np.uint8))
    for image in (render_example(9, 2, 200), render_example(3, 1, 64), render_example(20, 5, 37), noise):
        torch.testing.assert_close(processor(image, return_tensors="pt")["pixel_values"][0], transform(image), atol=1e-5, rtol=0)
    grey = processor(render_example(9, 2, 100).convert("L"), return_tensors="pt")["pixel_values"]
    assert grey.shape == (1, 3, 64, 64)


def test_loss_gradients_and_learning():
    torch.manual_seed(0)
    model = AslCnnForImageClassification(AslCnnConfig(**SMALL, dropout=0.0, num_labels=4))
    pixels, labels = torch.randn(8, 3, 32, 32), torch.tensor([0, 1, 2, 3] * 2)
    output = model(pixel_values=pixels, labels=labels)
    torch.testing.assert_close(output.loss, torch.nn.functional.cross_entropy(output.logits, labels))
    output.loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = model(pixel_values=pixels, labels=labels).loss
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    assert losses[-1] < losses[0]
    assert model(pixel_values=pixels).loss is None


def test_multi_label_problem_type_uses_binary_cross_entropy():
    model = AslCnnForImageClassification(AslCnnConfig(**SMALL, num_labels=3, problem_type="multi_label_classification"))
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    output = model(pixel_values=torch.randn(2, 3, 32, 32), labels=labels)
    torch.testing.assert_close(output.loss, torch.nn.functional.binary_cross_entropy_with_logits(output.logits, labels))


def test_hidden_states_tuple_output_and_batch_norm():
    model = AslCnnForImageClassification(AslCnnConfig(use_batch_norm=True)).eval()
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 2
    output = model(pixel_values=torch.randn(1, 3, 64, 64), output_hidden_states=True)
    assert [tuple(h.shape) for h in output.hidden_states] == [(1, 32, 31, 31), (1, 64, 14, 14), (1, 256)]
    assert model(pixel_values=torch.randn(1, 3, 64, 64)).hidden_states is None
    (logits,) = model(pixel_values=torch.randn(1, 3, 64, 64), return_dict=False)
    assert logits.shape == (1, 29)
    loss, logits = model(pixel_values=torch.randn(2, 3, 64, 64), labels=torch.tensor([0, 28]), return_dict=False)
    assert loss.ndim == 0 and logits.shape == (2, 29)
    assert model(pixel_values=torch.randn(1, 3, 64, 64, dtype=torch.float64)).logits.dtype == torch.float32


@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        (torch.randn(1, 1, 64, 64), r"shape \(batch, 3, 64, 64\), got \(1, 1, 64, 64\)"),
        (torch.randn(1, 3, 80, 80), r"shape \(batch, 3, 64, 64\), got \(1, 3, 80, 80\)"),
        (torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8), "float tensor.*got torch.uint8"),
        (torch.randn(3, 64, 64), r"shape \(batch, 3, 64, 64\), got \(3, 64, 64\)"),
    ],
    ids=["channels", "size", "integer", "3-d"],
)
def test_wrong_input_gives_clear_errors(pixels, message):
    with pytest.raises(ValueError, match=message):
        AslCnnForImageClassification(AslCnnConfig())(pixel_values=pixels)


def test_custom_config_round_trip(tmp_path):
    config = AslCnnConfig(image_size=48, conv_channels=[16, 32], hidden_size=32, num_labels=5, dropout=0.25)
    model = save_model(tmp_path, config)
    assert model(pixel_values=torch.randn(2, 3, 48, 48)).logits.shape == (2, 5)
    reloaded = AutoConfig.from_pretrained(tmp_path)
    assert type(reloaded) is AslCnnConfig
    for key in ("image_size", "conv_channels", "kernel_sizes", "hidden_size", "dropout", "image_mean", "image_std", "id2label", "label2id"):
        assert getattr(reloaded, key) == getattr(config, key), key
    assert reloaded.num_labels == 5 and reloaded.id2label[4] == "LABEL_4"
    assert AutoImageProcessor.from_pretrained(tmp_path).size == {"height": 48, "width": 48}
    assert AslCnnConfig(id2label={0: "yes", 1: "no"}).label2id == {"yes": 0, "no": 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"conv_channels": [8, 16, 32], "kernel_sizes": [3, 3]}, "same length"),
        ({"image_size": 8}, r"too small .* sides would be \[3, 0\]"),
        ({"image_size": 0}, "image_size must be a positive integer, got 0"),
        ({"image_size": "64"}, "image_size must be a positive integer, got '64'"),
        ({"hidden_size": -1}, "hidden_size must be a positive integer"),
        ({"conv_channels": []}, "conv_channels must be a non-empty list"),
        ({"kernel_sizes": [3, 0]}, "kernel_sizes must be a non-empty list of positive integers"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1.0"),
        ({"use_batch_norm": "yes"}, "use_batch_norm must be true or false"),
        ({"image_mean": [0.5]}, "need 3 values"),
        ({"image_std": [0.5, 0.0, 0.5]}, "image_std positive"),
    ],
)
def test_invalid_config_values_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AslCnnConfig(**kwargs)
