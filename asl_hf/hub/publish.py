"""Publishing to the Hugging Face Hub: trained models with evaluation cards, the prepared data set.

Everything goes through the real ``huggingface_hub`` client (``HfApi.create_repo`` + ``upload_folder``, one
commit per push) or ``datasets.DatasetDict.push_to_hub``. Model pushes are staged first: the exact folder that
is uploaded (safetensors weights, configs, remote code, results, confusion matrices, the generated README.md)
is written to a staging directory, so ``dry_run=True`` shows precisely what a real push would send. Hub
failures become one-line ``HubError`` messages that say what to do; local folders are only read.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..core.errors import AslError, HubError, OutputExistsError
from .model_card import KIND_TITLES, build_model_card, detect_model_kind, public_training_args

MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".py", ".png", ".txt", ".onnx")
"""Top-level files of a training output folder that are published (sub-folders never are)."""
SKIPPED_FILES = ("trainer_state.json",)  # resumable-training bookkeeping, not part of the model
LOGIN_HINT = "run `hf auth login` or set HF_TOKEN (or pass --token)"


def resolve_token(token: str | None = None) -> str:
    """The token to push with: the argument, else HF_TOKEN, else the stored ``hf auth login`` token."""
    from huggingface_hub import get_token

    token = token or get_token()
    if not token:
        raise HubError(f"no Hugging Face token found: {LOGIN_HINT}; the token needs write access")
    return token


@contextlib.contextmanager
def hub_errors(action: str, repo_id: str):
    """Turn client and network failures into one ``HubError`` line (never containing the token)."""
    import httpx2
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

    try:
        yield
    except AslError:
        raise
    except OfflineModeIsEnabled as error:
        raise HubError(f"{action} {repo_id}: HF_HUB_OFFLINE is set; unset it to publish to the Hub") from error
    except RepositoryNotFoundError as error:
        raise HubError(f"{action} {repo_id}: the repository does not exist or this token cannot see it; "
                       f"check the id and {LOGIN_HINT}") from error
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        server = (error.server_message or "").strip().splitlines()[0] if error.server_message else ""
        detail = f": {server}" if server else ""
        if status == 401:
            raise HubError(f"{action} {repo_id}: the Hub rejected the token (401 Unauthorized{detail}); {LOGIN_HINT} with a valid token") from error
        if status == 403:
            raise HubError(f"{action} {repo_id}: this token may not write there (403 Forbidden{detail}); "
                           f"use a token with write access to that namespace: {LOGIN_HINT}") from error
        if status is not None and status >= 500:
            raise HubError(f"{action} {repo_id}: the Hub answered {status} (server error{detail}); nothing local changed, try again later") from error
        raise HubError(f"{action} {repo_id}: the Hub answered {status}{detail}" + (f"; {LOGIN_HINT}" if status == 404 else "")) from error
    except ValueError as error:
        if "Invalid metadata in README.md" in str(error):
            raise HubError(f"{action} {repo_id}: the Hub rejected the card metadata: {' '.join(str(error).split())}") from error
        raise
    except (httpx2.TransportError, ConnectionError, TimeoutError) as error:
        raise HubError(f"{action} {repo_id}: could not reach the Hub at {constants.ENDPOINT} ({type(error).__name__}); "
                       "check the network connection or HF_ENDPOINT") from error


def authenticated_api(token: str | None, action: str, repo_id: str):
    """An ``HfApi`` with a checked token, and the full repo id (a bare name gets the user's namespace)."""
    from huggingface_hub import HfApi

    api = HfApi(token=resolve_token(token))
    with hub_errors(action, repo_id):
        user = api.whoami()["name"]
    return api, repo_id if "/" in repo_id else f"{user}/{repo_id}"


def result_url(api, repo_type: str, repo_id: str, commit, revision: str | None) -> str:
    """Where the push landed: the pull request, the branch, or the repo."""
    if commit is not None and commit.pr_url:
        return commit.pr_url
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    url = f"{api.endpoint}/{prefix}{repo_id}"
    return f"{url}/tree/{revision}" if revision and revision != "main" else url


def prepare_revision(api, repo_type: str, repo_id: str, revision: str | None, create_pr: bool) -> None:
    """Commits go to an existing branch: create ``revision`` from main first (a PR targets it as is)."""
    if revision and revision != "main" and not create_pr and not revision.startswith("refs/pr/"):
        api.create_branch(repo_id, branch=revision, repo_type=repo_type, exist_ok=True)


def _published_model_files(model_dir: Path) -> list[Path]:
    """Top-level weights (safetensors only), configs, remote code, results and plots: no checkpoints/,
    best_model/, runs/, pickles or optimizer states."""
    return sorted(
        p for p in model_dir.iterdir()
        if p.is_file() and p.suffix in MODEL_FILE_SUFFIXES and p.name not in SKIPPED_FILES and p.name != "README.md"
        and not p.name.startswith(".") and not any(s in p.name for s in ("optimizer", "scheduler", "rng_state"))
    )


def stage_model_folder(
    output_dir: str | os.PathLike,
    staging_dir: str | os.PathLike,
    repo_id: str,
    other_model_dir: str | os.PathLike | None = None,
    dataset_id: str | None = None,
) -> list[str]:
    """Write the folder a model push uploads (files + README.md card) to ``staging_dir``; return its file names."""
    output_dir, staging_dir = Path(output_dir), Path(staging_dir)
    if not output_dir.is_dir():
        raise HubError(f"{output_dir}: not a folder (give the --output_dir of scripts/train.py)")
    detect_model_kind(output_dir)
    card = build_model_card(output_dir, repo_id, other_model_dir=other_model_dir, dataset_id=dataset_id)
    staging_dir.mkdir(parents=True, exist_ok=True)
    for path in _published_model_files(output_dir):
        if path.name == "training_args.json":  # never publish a token given on the training command line
            args = public_training_args(json.loads(path.read_text()))
            (staging_dir / path.name).write_text(json.dumps(args, indent=2) + "\n")
        else:
            shutil.copy2(path, staging_dir / path.name)
    card.save(staging_dir / "README.md")
    return sorted(p.name for p in staging_dir.iterdir())


def push_model_folder(
    output_dir: str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str | None = None,
    dry_run: bool = False,
    dataset_id: str | None = None,
    other_model_dir: str | os.PathLike | None = None,
    staging_dir: str | os.PathLike | None = None,
) -> str:
    """Publish a training output folder as a model repo with its card, in one commit.

    Returns the repo URL (the pull request's URL with ``create_pr``). With ``dry_run`` nothing is sent: the
    folder that would be uploaded is written to ``staging_dir`` (default: a new temporary folder) and its
    path is returned. ``other_model_dir`` (the other model's training output) adds a comparison table;
    ``dataset_id`` names the Hub data set the results refer to (default: the one recorded at training).
    """
    if not Path(output_dir).is_dir():
        raise HubError(f"{output_dir}: not a folder (give the --output_dir of scripts/train.py)")
    if dry_run:
        staging = Path(staging_dir) if staging_dir else Path(tempfile.mkdtemp(prefix="asl-hub-dry-run-"))
        if staging.exists() and any(staging.iterdir()):
            raise OutputExistsError(f"{staging}: not empty; give an empty or new --staging_dir so it holds exactly the upload")
        stage_model_folder(output_dir, staging, repo_id, other_model_dir, dataset_id)
        return str(staging)
    kind = detect_model_kind(output_dir)  # a wrong folder fails before any network call
    api, repo_id = authenticated_api(token, "pushing the model to", repo_id)
    with tempfile.TemporaryDirectory(prefix="asl-hub-push-") as staging:
        stage_model_folder(output_dir, staging, repo_id, other_model_dir, dataset_id)  # card errors surface before any upload
        message = commit_message or f"Upload {KIND_TITLES[kind]} weights, results and model card"
        with hub_errors("pushing the model to", repo_id):
            api.create_repo(repo_id, private=private, exist_ok=True)
            prepare_revision(api, "model", repo_id, revision, create_pr)
            commit = api.upload_folder(repo_id=repo_id, folder_path=staging, commit_message=message,
                                       revision=revision, create_pr=create_pr)
    return result_url(api, "model", repo_id, commit, revision)


def merge_dataset_card(local_card: str, pushed_card: str, repo_id: str | None = None) -> str:
    """Our card's text and metadata, plus the ``configs``/``dataset_info`` YAML that ``push_to_hub`` wrote
    (``load_dataset`` reads the splits and features from it). The card's ``<this repo id>`` placeholder
    becomes ``repo_id``."""
    from huggingface_hub import DatasetCard, DatasetCardData

    metadata = DatasetCard(local_card).data.to_dict()
    generated = DatasetCard(pushed_card).data.to_dict()
    metadata.update({key: generated[key] for key in ("configs", "dataset_info") if key in generated})
    text = DatasetCard(local_card).text
    if repo_id:
        text = text.replace("<this repo id>", repo_id)
    return f"---\n{DatasetCardData(**metadata).to_yaml()}\n---\n{text}"


def push_dataset(
    dataset,
    repo_id: str,
    card=None,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str | None = None,
) -> str:
    """Push a ``DatasetDict`` as Parquet with ``push_to_hub``, then its card (a ``DatasetCard`` or README text).

    ``push_to_hub`` writes ``configs``/``dataset_info`` into the repo's README.md (``load_dataset`` reads the
    splits and features from it); the card is merged with that YAML, not clobbering it, and committed.
    Returns the data set's URL (the pull request's URL with ``create_pr``).
    """
    from huggingface_hub import hf_hub_download

    api, repo_id = authenticated_api(token, "pushing the data set to", repo_id)
    with hub_errors("pushing the data set to", repo_id):
        commit = dataset.push_to_hub(repo_id, private=private, token=api.token, revision=revision, create_pr=create_pr,
                                     commit_message=commit_message or "Upload the prepared ASL Alphabet splits (Parquet)")
        if card is not None:
            pushed = Path(hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=commit.oid, token=api.token)).read_text()
            api.upload_file(path_or_fileobj=merge_dataset_card(str(card), pushed, repo_id).encode(), path_in_repo="README.md",
                            repo_id=repo_id, repo_type="dataset", commit_message="Dataset card: sources, classes, splits, limitations",
                            revision=commit.pr_revision or revision)
    return result_url(api, "dataset", repo_id, commit, revision)


def push_dataset_folder(
    dataset_dir: str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str | None = None,
) -> str:
    """Push a folder written by ``prepare_dataset`` (splits saved with ``save_to_disk`` + README.md card)."""
    from ..data import load_prepared_dataset

    dataset_dir = Path(dataset_dir)
    splits = load_prepared_dataset(dataset_dir)
    card_path = dataset_dir / "README.md"
    card = card_path.read_text() if card_path.is_file() else None
    return push_dataset(splits, repo_id, card, token=token, private=private, revision=revision, create_pr=create_pr,
                        commit_message=commit_message)
