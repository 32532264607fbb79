"""Fixtures that build small image folders on the fly (no real data, no network)."""

from __future__ import annotations

import pytest

from asl_hf.data.synthetic import generate_synthetic_asl


@pytest.fixture(scope="session")
def synthetic_folder(tmp_path_factory):
    """All 29 classes, 20 images each (two 'sessions' of 10 consecutive frames), 64 px. Read-only for tests."""
    return generate_synthetic_asl(tmp_path_factory.mktemp("raw") / "asl", images_per_class=20, image_size=64, seed=0)


@pytest.fixture
def make_folder(tmp_path):
    """Factory: a fresh synthetic folder a test may modify (add bad files, remove classes)."""

    def make(images_per_class: int = 10, classes: list[str] | None = None, image_size: int = 48, name: str = "raw"):
        return generate_synthetic_asl(tmp_path / name, images_per_class=images_per_class, image_size=image_size, classes=classes)

    return make
