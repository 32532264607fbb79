"""The fast input paths give the same numbers as the plain ones: cached frozen features and preloaded images."""

from __future__ import annotations

import datasets
import pytest
import torch
from PIL import Image

from asl_hf.models import mobilenet
from asl_hf.training.feature_cache import compute_features, feature_bytes
from asl_hf.training.preload import preload_split
from asl_hf.models.preprocessing import PreprocessSpec, build_eval_transform, build_normalise_transform, build_resize_transform
from asl_hf.training.transforms import AugmentationConfig, batch_transform, build_train_transform


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    model = mobilenet.create_mobilenetv2(pretrained=False, image_size=64).eval()
    for name, buffer in model.named_buffers():  # non-trivial BatchNorm statistics, so eval mode matters
        if name.endswith("running_mean"):
            buffer.uniform_(-0.1, 0.1)
        elif name.endswith("running_var"):
            buffer.uniform_(0.5, 1.5)
    return model


@pytest.fixture(scope="module")
def photos():
    generator = torch.Generator().manual_seed(0)
    images = [Image.fromarray(torch.randint(0, 256, (80 + 7 * i, 90, 3), generator=generator, dtype=torch.uint8).numpy()) for i in range(6)]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(num_classes=3)})
    return datasets.Dataset.from_dict({"image": images, "label": [0, 1, 2, 0, 1, 2]}, features=features)


@pytest.mark.parametrize("k", [0, 2, 3])
def test_top_of_network_after_prefix_is_the_whole_model(small_model, k):
    pixels = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        expected = small_model(pixels)
        actual = mobilenet.TopOfNetwork(small_model, k)(mobilenet.frozen_prefix(small_model, k)(pixels))
    assert expected.std(dim=0).mean() > 1e-3  # the logits depend on the input (no dead network)
    torch.testing.assert_close(actual, expected)


def test_cached_eval_features_give_the_models_logits(small_model, photos):
    spec = PreprocessSpec.from_timm_data_config(mobilenet.data_config(small_model))
    eval_transform = build_eval_transform(spec)
    prefix = mobilenet.frozen_prefix(small_model, 2)
    cached = compute_features(prefix, photos.with_transform(batch_transform(eval_transform)), 1, 4, torch.device("cpu"),
                              show_progress=False)
    assert cached.features.shape[:2] == (1, 6) and cached.labels.tolist() == [0, 1, 2, 0, 1, 2]
    top = mobilenet.TopOfNetwork(small_model, 2).eval()
    with torch.no_grad():
        from_cache = top(cached.features[0])
        whole = small_model(torch.stack([eval_transform(image.convert("RGB")) for image in photos["image"]]))
    torch.testing.assert_close(from_cache, whole, rtol=1e-4, atol=1e-4)
    # the channels_last pass leaves the weights contiguous, so the model still saves as safetensors
    assert all(p.is_contiguous() for p in small_model.parameters())
    expected = 6 * int(torch.tensor(cached.features.shape[2:]).prod()) * 2
    assert feature_bytes(prefix, (3, 64, 64), 6, 1) == expected


def test_augmented_views_differ_and_one_is_drawn_per_item(small_model, photos):
    spec = PreprocessSpec.from_timm_data_config(mobilenet.data_config(small_model))
    train = photos.with_transform(batch_transform(build_train_transform(spec, AugmentationConfig(rotation=30, shift=0.2))))
    torch.manual_seed(0)
    cached = compute_features(mobilenet.frozen_prefix(small_model, 3), train, 2, 4, torch.device("cpu"), torch.float16,
                              show_progress=False)
    assert cached.features.shape[0] == 2 and cached.features.dtype == torch.float16
    assert not torch.equal(cached.features[0], cached.features[1])
    item = cached[0]
    assert item["pixel_values"].dtype == torch.float32 and item["labels"] == 0
    assert any(torch.equal(item["pixel_values"], cached.features[v, 0].float()) for v in range(2))


@pytest.mark.parametrize("timm_spec", [False, True])
def test_preloaded_images_match_the_eval_transform(photos, timm_spec):
    if timm_spec:
        spec = PreprocessSpec(height=48, width=48, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), interpolation="bicubic", crop_pct=0.875)
    else:
        spec = PreprocessSpec(height=32, width=32, mean=(0.5,) * 3, std=(0.5,) * 3, resize_on_tensor=True)
    preloaded = preload_split(photos, build_resize_transform(spec), build_normalise_transform(spec), show_progress=False)
    assert preloaded.images.dtype == torch.uint8 and preloaded.images.shape == (6, 3, spec.height, spec.width)
    eval_transform = build_eval_transform(spec)
    for index, image in enumerate(photos["image"]):
        torch.testing.assert_close(preloaded[index]["pixel_values"], eval_transform(image.convert("RGB")))
        assert preloaded[index]["labels"] == photos[index]["label"]
