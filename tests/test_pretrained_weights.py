"""Where MobileNetV2's ImageNet weights come from: the Hub, the local Hugging Face cache, or --pretrained_weights.

No test needs the network: the Hub is the loopback server (``tests/hub_server.py``) or an address that refuses
connections, and the cache is a temporary folder (a copy of ``../shared/hf-cache`` when it exists).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import huggingface_hub.constants as hf_constants
import pytest
import timm
import torch
from safetensors.torch import load_file, save_file

from asl_hf.core.errors import AslError
from asl_hf.models.mobilenet import IMAGENET_CHECKPOINT, create_mobilenetv2, describe_pretrained_source
from asl_hf.training.arguments import parse_args
from tests.fixtures_hub import point_clients_at
from tests.hub_server import HubServer

REPO = Path(__file__).resolve().parents[1]
SHARED_CACHE = REPO.parent / "shared" / "hf-cache" / "hub"
CACHE_ENTRY = "models--timm--mobilenetv2_100.ra_in1k"
CLASSIFIER = ("classifier.weight", "classifier.bias")
REFUSED = "http://127.0.0.1:9"  # the discard port: connections are refused at once


def random_imagenet_state(seed: int = 0, **kwargs) -> dict[str, torch.Tensor]:
    """A timm mobilenetv2_100 with its 1000-way ImageNet classifier, random weights and BatchNorm statistics."""
    torch.manual_seed(seed)
    model = timm.create_model("mobilenetv2_100", pretrained=False, **kwargs)
    for name, buffer in model.named_buffers():
        if name.endswith(("running_mean", "running_var")):
            buffer.uniform_(0.5, 1.5)
    return {key: value.contiguous() for key, value in model.state_dict().items()}


def assert_backbone_equals(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    loaded = model.state_dict()
    backbone = [key for key in state if key not in CLASSIFIER and not key.endswith("num_batches_tracked")]
    assert len(backbone) > 250
    for key in backbone:
        torch.testing.assert_close(loaded[key], state[key], rtol=0, atol=0, msg=key)
    assert tuple(model.get_classifier().weight.shape) == (29, 1280)  # a new head for the 29 classes


def use_cache(monkeypatch: pytest.MonkeyPatch, cache: Path, offline: bool, endpoint: str | None = None) -> None:
    """Point huggingface_hub (as timm calls it, in this process) at ``cache``; the values it read at import time too."""
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", offline)
    if endpoint:
        monkeypatch.setattr(hf_constants, "ENDPOINT", endpoint)
        monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")


def fake_cache(root: Path, state: dict[str, torch.Tensor]) -> Path:
    """A Hugging Face cache entry for timm's checkpoint, laid out as huggingface_hub writes it (no download)."""
    snapshot = root / CACHE_ENTRY / "snapshots" / ("0" * 39 + "2")
    snapshot.mkdir(parents=True)
    save_file(state, str(snapshot / "model.safetensors"))
    (root / CACHE_ENTRY / "refs").mkdir()
    (root / CACHE_ENTRY / "refs" / "main").write_text("0" * 39 + "2")
    return root


def assert_one_line(error: pytest.ExceptionInfo, *needles: str) -> None:
    message = str(error.value)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, (needle, message)


# --- the Hugging Face cache ----------------------------------------------------------------------------------------


@pytest.mark.skipif(not SHARED_CACHE.is_dir(), reason=f"no shared weights cache at {SHARED_CACHE} (the project's ../shared folder)")
def test_shared_cache_loads_offline_with_the_cached_tensors(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    shutil.copytree(SHARED_CACHE, cache)  # read-only in CI; hf_hub_download may write beside the files
    use_cache(monkeypatch, cache, offline=True)
    assert describe_pretrained_source() == f"ImageNet weights {IMAGENET_CHECKPOINT} from the local Hugging Face cache at {cache} (offline)"
    model = create_mobilenetv2(pretrained=True, image_size=96)
    [weights] = cache.glob(f"{CACHE_ENTRY}/snapshots/*/model.safetensors")
    assert_backbone_equals(model, load_file(str(weights)))
    assert "file" not in model.pretrained_cfg and model.pretrained_cfg["input_size"] == (3, 96, 96)


def test_environment_variables_select_the_cache_in_a_fresh_process(tmp_path):
    """What a user sets: HF_HUB_CACHE and HF_HUB_OFFLINE=1 (read by huggingface_hub at import time)."""
    state = random_imagenet_state(seed=3)
    cache = fake_cache(tmp_path / "hub", state)
    code = textwrap.dedent(
        """
        import torch
        from safetensors.torch import load_file
        from asl_hf.models.mobilenet import create_mobilenetv2, describe_pretrained_source
        print(describe_pretrained_source())
        model = create_mobilenetv2(pretrained=True)
        print(float(model.conv_stem.weight.sum()))
        """
    )
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    source, stem_sum = result.stdout.strip().splitlines()[-2:]
    assert source == f"ImageNet weights {IMAGENET_CHECKPOINT} from the local Hugging Face cache at {cache} (offline)"
    assert float(stem_sum) == pytest.approx(float(state["conv_stem.weight"].sum()), rel=1e-6)


def test_cache_is_used_when_the_hub_is_unreachable(tmp_path, monkeypatch):
    use_cache(monkeypatch, fake_cache(tmp_path / "hub", random_imagenet_state()), offline=False, endpoint=REFUSED)
    source = describe_pretrained_source()
    assert source.startswith(f"ImageNet weights {IMAGENET_CHECKPOINT} from the local Hugging Face cache at {tmp_path / 'hub'} (Hub unreachable")
    assert "HF_HUB_OFFLINE=1" in source


@pytest.mark.parametrize("offline", [True, False], ids=["offline", "hub-unreachable"])
def test_no_weights_anywhere_is_a_one_line_error_naming_the_ways_out(offline, tmp_path, monkeypatch):
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    use_cache(monkeypatch, cache, offline=offline, endpoint=REFUSED)
    needles = ("ImageNet weights", IMAGENET_CHECKPOINT, "--no_pretrained", "--pretrained_weights PATH", "HF_HUB_CACHE", str(cache))
    with pytest.raises(AslError) as error:
        describe_pretrained_source()
    assert_one_line(error, *needles, "HF_HUB_OFFLINE=1" if offline else "unreachable")
    if offline:  # online, timm would first retry the refused Hub for a minute
        with pytest.raises(AslError) as error:
            create_mobilenetv2(pretrained=True)
        assert_one_line(error, *needles)


# --- the Hub -------------------------------------------------------------------------------------------------------


def test_weights_from_the_hub_are_downloaded_and_then_cached(tmp_path, monkeypatch):
    """timm's own download path, against the loopback Hub holding a stand-in for timm/mobilenetv2_100.ra_in1k."""
    from huggingface_hub import HfApi

    state = random_imagenet_state(seed=1)
    save_file(state, str(tmp_path / "model.safetensors"))
    with HubServer(user="timm") as server:
        point_clients_at(monkeypatch, server.url, server.token, tmp_path / "hf_home")
        api = HfApi(endpoint=server.url, token=server.token)
        api.create_repo(IMAGENET_CHECKPOINT)
        api.upload_file(path_or_fileobj=str(tmp_path / "model.safetensors"), path_in_repo="model.safetensors", repo_id=IMAGENET_CHECKPOINT)
        assert describe_pretrained_source() == f"ImageNet weights {IMAGENET_CHECKPOINT} from the Hugging Face Hub ({server.url})"
        assert_backbone_equals(create_mobilenetv2(pretrained=True), state)
        assert describe_pretrained_source().endswith("(already in the local cache)")
        assert not server.unhandled


# --- --pretrained_weights PATH -------------------------------------------------------------------------------------


def test_pretrained_weights_file_loads_exactly_its_backbone(tmp_path, monkeypatch):
    use_cache(monkeypatch, tmp_path / "empty-cache", offline=True)  # the Hub and the cache are never asked
    state = random_imagenet_state(seed=2)
    path = tmp_path / "mobilenetv2_100.safetensors"
    save_file(state, str(path))
    assert describe_pretrained_source(pretrained_weights=path) == f"ImageNet weights from the local file {path} (--pretrained_weights)"
    model = create_mobilenetv2(pretrained_weights=str(path), image_size=64)
    assert_backbone_equals(model, state)
    assert "file" not in model.pretrained_cfg  # not recorded in the saved config

    # A backbone without classifier nor BatchNorm counters (what other exporters write) loads too.
    headless = {k: v for k, v in state.items() if k not in CLASSIFIER and not k.endswith("num_batches_tracked")}
    save_file(headless, str(tmp_path / "headless.safetensors"))
    assert_backbone_equals(create_mobilenetv2(pretrained_weights=tmp_path / "headless.safetensors"), state)


def test_train_arguments_pass_the_file_to_the_model_factory(tmp_path):
    args = parse_args(["--model", "mobilenetv2", "--output_dir", str(tmp_path), "--pretrained_weights", "w.safetensors"])
    assert args.pretrained_weights == "w.safetensors" and not args.no_pretrained
    with pytest.raises(SystemExit):
        parse_args(["--model", "mobilenetv2", "--output_dir", str(tmp_path), "--pretrained_weights", "w.safetensors", "--no_pretrained"])
    with pytest.raises(AslError, match="not both"):
        create_mobilenetv2(pretrained=False, pretrained_weights=tmp_path / "w.safetensors")


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """Files --pretrained_weights must refuse, with what the error has to say about each."""
    tmp_path = tmp_path_factory.mktemp("bad_weights")
    state = random_imagenet_state()
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"<html>404 not found</html>" * 10)
    torch_file = tmp_path / "weights.pth"
    torch.save(state, torch_file)
    partial = tmp_path / "partial.safetensors"
    save_file({k: v for k, v in state.items() if not k.startswith("blocks.6.")}, str(partial))
    renamed = tmp_path / "renamed.safetensors"
    save_file({f"model.{k}": v for k, v in state.items()}, str(renamed))
    smaller = tmp_path / "mobilenetv2_050.safetensors"
    torch.manual_seed(0)
    save_file(timm.create_model("mobilenetv2_050", pretrained=False).state_dict(), str(smaller))
    return {
        "missing": (tmp_path / "absent.safetensors", ("no such file",)),
        "garbage": (garbage, ("not a readable safetensors file",)),
        "not-safetensors": (torch_file, ("not a .safetensors file",)),
        "partial": (partial, ("not weights of timm's mobilenetv2_100", "missing keys (first: blocks.6.")),
        "renamed": (renamed, ("missing keys", "unexpected keys (first: model.")),
        "other-width": (smaller, ("keys of the wrong shape",)),
    }


@pytest.mark.parametrize("case", ["missing", "garbage", "not-safetensors", "partial", "renamed", "other-width"])
def test_bad_weight_files_are_one_line_errors_naming_the_file(case, bad_files):
    path, needles = bad_files[case]
    for call in (lambda: describe_pretrained_source(pretrained_weights=path), lambda: create_mobilenetv2(pretrained_weights=str(path))):
        with pytest.raises(AslError) as error:
            call()
        assert_one_line(error, "--pretrained_weights", str(path), *needles)
