"""The custom CNN as a transformers model: save/load, remote code without asl_hf, pipeline, learning, input checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

from asl_hf.constants import CLASS_NAMES
from asl_hf.data.synthetic import render_example
from asl_hf.models import AslCnnConfig, AslCnnForImageClassification, build_image_processor
from asl_hf.transforms import PreprocessSpec, build_eval_transform


def save_model(folder, config=None, seed=0):
    torch.manual_seed(seed)
    model = AslCnnForImageClassification(config or AslCnnConfig()).eval()
    model.save_pretrained(folder)
    build_image_processor(model.config).save_pretrained(folder)
    return model


def test_default_config_is_the_reference_architecture():
    config = AslCnnConfig()
    assert (config.image_size, config.num_channels, config.conv_channels, config.kernel_sizes, config.hidden_size) == (64, 3, [32, 64], [3, 3], 64)
    assert config.num_labels == 29 and config.id2label[0] == "A" and config.id2label[28] == "space"
    assert config.feature_map_size() == 14  # 64 -conv-> 62 -pool-> 31 -conv-> 29 -pool-> 14
    model = AslCnnForImageClassification(config)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64] and model.dense.in_features == 64 * 14 * 14
    assert sum(p.numel() for p in model.parameters()) == 824_157


def test_save_and_load_give_identical_logits_safetensors_only(tmp_path):
    model = save_model(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and not list(tmp_path.glob("*.bin"))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "asl_cnn" and config["auto_map"]["AutoModelForImageClassification"].endswith("AslCnnForImageClassification")
    assert {"configuration_asl_cnn.py", "modeling_asl_cnn.py", "preprocessor_config.json"} <= {p.name for p in tmp_path.iterdir()}
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
    code = textwrap.dedent(
        f"""
        import importlib.abc, sys
        class BlockAslHf(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "asl_hf" or name.startswith("asl_hf."):
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, BlockAslHf())
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
        assert scores[0]["label"] == model.config.id2label[int(logits.argmax())]
        print("ok", type(model).__module__)
        """
    )
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path / "fresh",
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok transformers_modules")


def test_processor_matches_the_eval_transform():
    config = AslCnnConfig()
    processor = build_image_processor(config)
    transform = build_eval_transform(PreprocessSpec.from_cnn_config(config))
    for size in (200, 64, 37):
        image = render_example(9, 2, size)
        torch.testing.assert_close(processor(image, return_tensors="pt")["pixel_values"][0], transform(image), atol=1e-5, rtol=0)


def test_loss_gradients_and_learning():
    torch.manual_seed(0)
    config = AslCnnConfig(image_size=32, conv_channels=[8, 16], hidden_size=32, dropout=0.0, num_labels=4)
    model = AslCnnForImageClassification(config)
    pixels, labels = torch.randn(8, 3, 32, 32), torch.tensor([0, 1, 2, 3] * 2)
    output = model(pixel_values=pixels, labels=labels)
    assert output.loss is not None and output.loss.ndim == 0
    output.loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(15):
        optimizer.zero_grad()
        loss = model(pixel_values=pixels, labels=labels).loss
        first = first if first is not None else loss.item()
        loss.backward()
        optimizer.step()
    assert loss.item() < first
    assert model(pixel_values=pixels).loss is None


def test_hidden_states_and_tuple_output():
    model = AslCnnForImageClassification(AslCnnConfig(use_batch_norm=True)).eval()
    output = model(pixel_values=torch.randn(1, 3, 64, 64), output_hidden_states=True)
    assert [tuple(h.shape) for h in output.hidden_states] == [(1, 3, 64, 64), (1, 32, 31, 31), (1, 64, 14, 14), (1, 64)]
    logits, = model(pixel_values=torch.randn(1, 3, 64, 64), return_dict=False)
    assert logits.shape == (1, 29)


@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        (torch.randn(1, 1, 64, 64), r"shape \(batch, 3, 64, 64\), got \(1, 1, 64, 64\)"),
        (torch.randn(1, 3, 80, 80), r"got \(1, 3, 80, 80\)"),
        (torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8), "float tensor"),
        (torch.randn(3, 64, 64), r"got \(3, 64, 64\)"),
    ],
)
def test_wrong_input_gives_clear_errors(pixels, message):
    with pytest.raises(ValueError, match=message):
        AslCnnForImageClassification(AslCnnConfig())(pixel_values=pixels)


def test_custom_config_and_validation(tmp_path):
    config = AslCnnConfig(image_size=48, conv_channels=[16, 32], hidden_size=32, num_labels=5)
    model = save_model(tmp_path, config)
    assert model(pixel_values=torch.randn(2, 3, 48, 48)).logits.shape == (2, 5)
    assert AutoConfig.from_pretrained(tmp_path).to_dict()["conv_channels"] == [16, 32]
    assert AutoImageProcessor.from_pretrained(tmp_path).size == {"height": 48, "width": 48}
    with pytest.raises(ValueError, match="same length"):
        AslCnnConfig(conv_channels=[8, 16, 32], kernel_sizes=[3, 3])
    with pytest.raises(ValueError, match="too small"):
        AslCnnConfig(image_size=8)
