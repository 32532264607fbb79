"""The loopback Hub answers the real ``huggingface_hub`` client the way the Hub does (so test_hub.py means something)."""

from __future__ import annotations

import re

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, HfFileSystem, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)


@pytest.fixture
def api(hub):
    return HfApi(token=hub.token)


def upload_example(api, tmp_path, repo_id="user/example", **kwargs):
    folder = tmp_path / "upload"
    (folder / "weights").mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("regular text file\n")
    (folder / "weights" / "model.safetensors").write_bytes(bytes(range(256)) * 40)  # binary: goes through LFS
    api.create_repo(repo_id, exist_ok=True, **kwargs)
    return api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="Add files")


def test_upload_then_download_regular_and_lfs_files(hub, api, tmp_path):
    commit = upload_example(api, tmp_path)
    assert re.fullmatch(r"[0-9a-f]{40}", commit.oid)
    assert any(path.endswith(".git/info/lfs/objects/batch") for _, path, _ in hub.requests)
    assert [c.title for c in api.list_repo_commits("user/example")] == ["Add files", "initial commit"]
    assert hub.commits("user/example")[0].parent == hub.commits("user/example")[1].oid

    weights = hf_hub_download("user/example", "weights/model.safetensors")
    assert open(weights, "rb").read() == bytes(range(256)) * 40
    assert open(hf_hub_download("user/example", "notes.txt", revision=commit.oid)).read() == "regular text file\n"

    info = api.model_info("user/example", files_metadata=True)
    assert info.sha == commit.oid
    siblings = {s.rfilename: s for s in info.siblings}
    assert siblings["weights/model.safetensors"].lfs.size == 10240 and siblings["notes.txt"].lfs is None
    assert {f.path for f in api.list_repo_tree("user/example")} == {".gitattributes", "notes.txt", "weights"}
    assert "weights/model.safetensors" in {f.path for f in api.list_repo_tree("user/example", recursive=True)}
    paths = api.get_paths_info("user/example", ["notes.txt", "weights", "missing.txt"])
    assert [type(p).__name__ for p in paths] == ["RepoFile", "RepoFolder"]

    fs = HfFileSystem(endpoint=hub.url, token=hub.token)  # explicit: fsspec caches instances by their arguments
    with fs.open("user/example/weights/model.safetensors", "rb", block_size=100) as handle:  # range reads
        handle.seek(256)
        assert handle.read(4) == bytes([0, 1, 2, 3])


def test_errors_use_the_hubs_codes(hub, api, tmp_path):
    upload_example(api, tmp_path)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("user/example", "nope.txt")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("user/example", "notes.txt", revision="no-such-branch")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("user/missing")
    with pytest.raises(HfHubHTTPError, match="Invalid user token"):
        api.whoami(token="hf_wrong")
    with pytest.raises(HfHubHTTPError) as error:
        HfApi(token=False).create_repo("user/anonymous")
    assert error.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as error:
        api.create_repo("someone-else/repo")
    assert error.value.response.status_code == 403
    assert not hub.repo_exists("user/anonymous") and not hub.repo_exists("someone-else/repo")


def test_private_repos_are_invisible_without_the_owners_token(hub, api, tmp_path):
    upload_example(api, tmp_path, repo_id="user/secret", private=True)
    assert api.model_info("user/secret").private
    with pytest.raises(RepositoryNotFoundError):
        HfApi(token=False).model_info("user/secret")


def test_injected_failures_then_recovery(hub, api):
    hub.fail_next(500, path_contains="/api/repos/create")
    with pytest.raises(HfHubHTTPError) as error:
        api.create_repo("user/flaky")
    assert error.value.response.status_code == 500 and not hub.repo_exists("user/flaky")
    api.create_repo("user/flaky")
    assert hub.repo_exists("user/flaky")


def test_validate_yaml_rejects_a_broken_model_index_before_upload(hub, api, tmp_path):
    api.create_repo("user/cards")
    bad = "---\nmodel-index:\n- name: x\n  results:\n  - task: {}\n---\n# card\n"
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.upload_file(path_or_fileobj=bad.encode(), path_in_repo="README.md", repo_id="user/cards")
    assert hub.validate_yaml_calls[-1]["errors"] and len(hub.commits("user/cards")) == 1
    good = "---\nlicense: apache-2.0\n---\n# card\n"
    api.upload_file(path_or_fileobj=good.encode(), path_in_repo="README.md", repo_id="user/cards")
    assert hub.validate_yaml_calls[-1]["errors"] == [] and hub.files("user/cards")["README.md"] == good.encode()


def test_pull_requests_branches_and_parent_commit_checks(hub, api, tmp_path):
    first = upload_example(api, tmp_path)
    pr = api.create_commit("user/example", [CommitOperationAdd("pr.txt", b"from a PR")], commit_message="PR", create_pr=True)
    assert pr.pr_revision == "refs/pr/1" and pr.pr_url.endswith("/user/example/discussions/1")
    assert "pr.txt" not in hub.files("user/example") and "pr.txt" in hub.files("user/example", revision="refs/pr/1")
    api.create_branch("user/example", branch="dev")
    api.create_commit("user/example", [CommitOperationAdd("dev.txt", b"dev")], commit_message="dev", revision="dev")
    assert "dev.txt" in hub.files("user/example", revision="dev") and "dev.txt" not in hub.files("user/example")
    api.create_commit("user/example", [CommitOperationAdd("a.txt", b"a")], commit_message="a", parent_commit=first.oid)
    with pytest.raises(HfHubHTTPError) as error:  # main moved on since `first`
        api.create_commit("user/example", [CommitOperationAdd("b.txt", b"b")], commit_message="b", parent_commit=first.oid)
    assert error.value.response.status_code == 412
