"""Training augmentation and evaluation preprocessing: shapes, value ranges, determinism, parity with timm."""

from __future__ import annotations

import timm
import torch
from PIL import Image

from asl_hf.data.synthetic import render_example
from asl_hf.models.preprocessing import PreprocessSpec, build_eval_transform
from asl_hf.training.transforms import AugmentationConfig, batch_transform, build_train_transform, collate

CNN_SPEC = PreprocessSpec(height=64, width=64, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def test_eval_transform_shape_range_and_determinism():
    image = render_example(3, 1, image_size=200)
    transform = build_eval_transform(CNN_SPEC)
    out = transform(image)
    assert out.shape == (3, 64, 64) and out.dtype == torch.float32
    assert out.min() >= -1.0 and out.max() <= 1.0 and out.std() > 0.1
    assert torch.equal(out, transform(image))
    plain = build_eval_transform(PreprocessSpec(64, 64, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)))(image)
    assert plain.min() >= 0.0 and plain.max() <= 1.0  # rescaled 1/255 before normalising


def test_train_transform_augments_without_changing_shape():
    image = render_example(5, 2, image_size=200)
    torch.manual_seed(0)
    transform = build_train_transform(CNN_SPEC)
    first, second = transform(image), transform(image)
    assert first.shape == second.shape == (3, 64, 64)
    assert not torch.equal(first, second)
    assert first.min() >= -1.0 - 1e-6 and first.max() <= 1.0 + 1e-6


def test_augmentation_off_equals_eval_and_flip_is_opt_in():
    image = render_example(1, 1, image_size=96)
    none = AugmentationConfig(rotation=0, shift=0, shear=0, zoom=0, brightness=0, contrast=0, saturation=0, hue=0)
    assert torch.equal(build_train_transform(CNN_SPEC, none)(image), build_eval_transform(CNN_SPEC)(image))
    assert not any("Flip" in type(t).__name__ for t in build_train_transform(CNN_SPEC).transforms)
    flipping = build_train_transform(CNN_SPEC, AugmentationConfig(horizontal_flip=True))
    assert any("Flip" in type(t).__name__ for t in flipping.transforms)


def test_timm_spec_matches_timm_eval_transform():
    model = timm.create_model("mobilenetv2_100", pretrained=False, num_classes=29)
    config = timm.data.resolve_model_data_config(model)
    spec = PreprocessSpec.from_timm_data_config(config)
    assert (spec.height, spec.width, spec.crop_pct, spec.interpolation) == (224, 224, 0.875, "bicubic")
    image = render_example(7, 3, image_size=200)
    ours = build_eval_transform(spec)(image)
    theirs = timm.data.create_transform(**config, is_training=False)(image)
    assert ours.shape == theirs.shape == (3, 224, 224)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_batch_transform_and_collate_handle_any_mode():
    images = [render_example(0, 1, 80).convert("RGBA"), render_example(1, 1, 80).convert("L"), Image.new("CMYK", (30, 50))]
    batch = batch_transform(build_eval_transform(CNN_SPEC))({"image": images, "label": [0, 1, 2]})
    stacked = collate([{"pixel_values": p, "labels": l} for p, l in zip(batch["pixel_values"], batch["labels"])])
    assert stacked["pixel_values"].shape == (3, 3, 64, 64) and stacked["labels"].tolist() == [0, 1, 2]


def test_batch_transform_pickles_for_spawned_workers():
    import pickle

    restored = pickle.loads(pickle.dumps(batch_transform(build_train_transform(CNN_SPEC))))
    batch = restored({"image": [render_example(0, 1, 80)], "label": [0]})
    assert batch["pixel_values"][0].shape == (3, 64, 64)
