"""Fixtures for the loopback Hub server (``tests/hub_server.py``).

``hub`` starts a fresh server per test and points every Hugging Face client at it: environment variables for
subprocesses (``hub_env``), and the values ``huggingface_hub`` and ``datasets`` already read at import time
(``huggingface_hub.constants.ENDPOINT``, the module-level ``HfApi``, ``datasets.config.HF_ENDPOINT``...) for
in-process calls. Caches and the stored-token file go to a temporary HF_HOME, so nothing leaks between tests
or reads the developer's own login.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hub_server import HubServer


def hub_env(url: str, token: str | None, hf_home: Path) -> dict[str, str]:
    """Environment for a process that should talk to the loopback Hub (real client, legacy LFS uploads)."""
    env = {
        "HF_ENDPOINT": url,
        "HF_HUB_DISABLE_XET": "1",  # the server speaks git-LFS, not Xet
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": "0",
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hf_home / "hub"),
        "HF_ASSETS_CACHE": str(hf_home / "assets"),
        "HF_DATASETS_CACHE": str(hf_home / "datasets"),
        "HF_MODULES_CACHE": str(hf_home / "modules"),
        "HF_TOKEN_PATH": str(hf_home / "token"),
    }
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def point_clients_at(monkeypatch: pytest.MonkeyPatch, url: str, token: str | None, hf_home: Path) -> dict[str, str]:
    """Set ``hub_env`` in ``os.environ`` and patch the import-time copies that in-process clients use."""
    import datasets.config
    import huggingface_hub.constants as constants
    import huggingface_hub.hf_api as hf_api

    env = hub_env(url, token, hf_home)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if token is None:
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    patches = {
        constants: {
            "ENDPOINT": url,
            "HUGGINGFACE_CO_URL_TEMPLATE": url + "/{repo_id}/resolve/{revision}/{filename}",
            "HF_HUB_OFFLINE": False,
            "HF_HUB_DISABLE_XET": True,
            "HF_HOME": env["HF_HOME"],
            "HF_HUB_CACHE": env["HF_HUB_CACHE"],
            "HF_ASSETS_CACHE": env["HF_ASSETS_CACHE"],
            "HF_TOKEN_PATH": env["HF_TOKEN_PATH"],
            "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
        },
        hf_api.api: {"endpoint": url},
        datasets.config: {
            "HF_ENDPOINT": url,
            "HUB_DATASETS_URL": url + "/datasets/{repo_id}/resolve/{revision}/{path}",
            "HF_HUB_OFFLINE": False,
            "HF_DATASETS_OFFLINE": False,
            "HF_DATASETS_CACHE": Path(env["HF_DATASETS_CACHE"]),
            "HF_MODULES_CACHE": Path(env["HF_MODULES_CACHE"]),
        },
    }
    for target, values in patches.items():
        for name, value in values.items():
            monkeypatch.setattr(target, name, value, raising=False)
    return env


@pytest.fixture
def hub(monkeypatch, tmp_path_factory):
    """A running loopback Hub with every client pointed at it; ``hub.token`` is set as HF_TOKEN."""
    with HubServer() as server:
        server.hf_home = tmp_path_factory.mktemp("hf_home")
        server.env = point_clients_at(monkeypatch, server.url, server.token, server.hf_home)
        yield server
        assert not server.unhandled, f"the client called routes the loopback Hub does not implement: {server.unhandled}"


@pytest.fixture
def hub_server(hub):
    """Another name for ``hub`` (``hub_server.endpoint``, ``hub_server.token``)."""
    return hub


@pytest.fixture
def subprocess_env(hub):
    """``os.environ`` + the loopback Hub's variables, for ``subprocess.run(..., env=subprocess_env)``."""
    return {**os.environ, **hub.env}
