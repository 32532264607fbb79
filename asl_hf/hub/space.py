"""Publishing the Gradio Space: the ``space/`` folder with the ``asl_hf`` package beside ``app.py``.

A Space runs ``app.py`` from its folder and installs only ``requirements.txt``; it does not install this project. So the
push ships the package's source (``asl_hf/``, every ``.py`` file and the metric scripts, no caches) next to ``app.py``,
and ``app.py`` imports ``asl_hf`` like any user's script: loading, classifying, drawing, ranking and spelling exist
once, in the package. ``requirements.txt`` lists the runtime needs of the inference path only (CPU torch, no training
or test tools); ``tests/test_space.py`` runs the staged folder with everything else blocked.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..core.errors import HubError, OutputExistsError
from .publish import authenticated_api, prepare_revision, result_url, hub_errors

PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""The ``asl_hf`` package folder that is shipped inside the Space."""
PACKAGE_IGNORE = ["__pycache__", "**/__pycache__/**", "*.pyc", "*.egg-info/**"]
SPACE_IGNORE = ["__pycache__", "**/__pycache__/**", "*.pyc", ".git/**", ".gradio/**", "flagged/**", ".venv/**", "*.egg-info/**",
                "asl_hf/**"]
"""Never uploaded from the Space folder: caches, virtualenvs, and any stale ``asl_hf/`` copy (the push adds the current one)."""
SPACE_EXAMPLE_CLASSES = ("A", "B", "L", "V", "W", "Y", "nothing", "space")
"""Classes whose photo ``--examples_dir`` copies into the Space's ``examples/`` (one each)."""
SPACE_EXAMPLES_FOLDER = "examples"


def push_space(
    space_dir: str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str | None = None,
    dry_run: bool = False,
    examples_dir: str | os.PathLike | None = None,
    staging_dir: str | os.PathLike | None = None,
) -> str:
    """Publish the Gradio demo folder as a Space (created with ``space_sdk="gradio"`` if missing), with the ``asl_hf``
    package copied in beside ``app.py`` and, with ``examples_dir`` (a raw ``<CLASS>/*.jpg`` folder), one photo per
    ``SPACE_EXAMPLE_CLASSES`` class in ``examples/``.

    With ``dry_run`` nothing is sent and the newline-separated list of files that would be uploaded is returned;
    with ``staging_dir`` too, that exact folder is also written there (it must be empty or new).
    """
    space_dir = Path(space_dir)
    if not (space_dir / "app.py").is_file():
        raise HubError(f"{space_dir}: no app.py (give the Space folder, e.g. --space_dir space)")
    files = space_files(space_dir, examples_dir)  # a bad --examples_dir fails before any network call
    if dry_run:
        if staging_dir is not None:
            staging = Path(staging_dir)
            if staging.exists() and any(staging.iterdir()):
                raise OutputExistsError(f"{staging}: not empty; give an empty or new --staging_dir so it holds exactly the upload")
            stage_space_folder(space_dir, staging, examples_dir)
        return "\n".join(files)
    api, repo_id = authenticated_api(token, "pushing the Space to", repo_id)
    with tempfile.TemporaryDirectory(prefix="asl-hub-space-") as staging:
        stage_space_folder(space_dir, staging, examples_dir)
        with hub_errors("pushing the Space to", repo_id):
            api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
            prepare_revision(api, "space", repo_id, revision, create_pr)
            commit = api.upload_folder(repo_id=repo_id, repo_type="space", folder_path=staging,
                                       commit_message=commit_message or "Upload the ASL fingerspelling demo", revision=revision,
                                       create_pr=create_pr)
    return result_url(api, "space", repo_id, commit, revision)


def select_space_examples(examples_dir: str | os.PathLike, classes=SPACE_EXAMPLE_CLASSES) -> dict[str, Path]:
    """``{"examples/<CLASS>_<file name>": photo}``: for each class, the middle photo by frame number of
    ``<examples_dir>/<CLASS>/`` (the same photo on every run). A missing or empty class folder is a one-line
    ``HubError``. The public download's ``asl_alphabet_train/asl_alphabet_train/`` nesting is accepted."""
    from ..core.constants import IMAGE_EXTENSIONS
    from ..data.scan import resolve_nested_root
    from ..data.splitting import frame_number

    if not Path(examples_dir).is_dir():
        raise HubError(f"{examples_dir}: not a folder (--examples_dir takes a raw data folder: <PATH>/<CLASS>/*.jpg)")
    root = resolve_nested_root(examples_dir)
    selected = {}
    for name in classes:
        folder = root / name
        if not folder.is_dir():
            raise HubError(f"{root}: no class folder {name}/ (--examples_dir needs {', '.join(f'{c}/' for c in classes)})")
        photos = [p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS]
        if not photos:
            raise HubError(f"{folder}: no image files (--examples_dir needs a photo in each of {', '.join(classes)})")
        photos.sort(key=lambda p: (frame_number(p.name) is None, frame_number(p.name) or 0, p.name))
        photo = photos[len(photos) // 2]
        selected[f"{SPACE_EXAMPLES_FOLDER}/{name}_{photo.name}"] = photo
    return selected


def package_sources() -> dict[str, Path]:
    """``{"asl_hf/<path>": file}`` for every source file of the installed package (what the Space imports)."""
    from huggingface_hub.utils import filter_repo_objects

    names = [p.relative_to(PACKAGE_DIR).as_posix() for p in sorted(PACKAGE_DIR.rglob("*")) if p.is_file() and p.suffix == ".py"]
    return {f"asl_hf/{name}": PACKAGE_DIR / name for name in filter_repo_objects(names, ignore_patterns=PACKAGE_IGNORE)}


def _space_sources(space_dir: Path, examples_dir: str | os.PathLike | None) -> dict[str, Path]:
    """Every file of the Space upload and where it comes from. With ``examples_dir``, the selected photos replace
    whatever the folder's own ``examples/`` holds."""
    from huggingface_hub.utils import filter_repo_objects

    names = [p.relative_to(space_dir).as_posix() for p in sorted(space_dir.rglob("*")) if p.is_file()]
    sources = {name: space_dir / name for name in filter_repo_objects(names, ignore_patterns=SPACE_IGNORE)}
    sources.update(package_sources())
    if examples_dir is not None:
        sources = {name: path for name, path in sources.items() if not name.startswith(f"{SPACE_EXAMPLES_FOLDER}/")}
        sources.update(select_space_examples(examples_dir))
    return dict(sorted(sources.items()))


def space_files(space_dir: str | os.PathLike, examples_dir: str | os.PathLike | None = None) -> list[str]:
    """The files a Space push uploads: the folder's own (caches and virtualenvs left out), the package (``asl_hf/...``) and,
    with ``examples_dir``, the example photos (``examples/<CLASS>_<file name>``)."""
    return list(_space_sources(Path(space_dir), examples_dir))


def stage_space_folder(space_dir: str | os.PathLike, staging_dir: str | os.PathLike,
                       examples_dir: str | os.PathLike | None = None) -> list[str]:
    """Write the exact folder a Space push uploads to ``staging_dir``; return its files (as :func:`space_files`)."""
    staging_dir = Path(staging_dir)
    sources = _space_sources(Path(space_dir), examples_dir)
    for name, source in sources.items():
        (staging_dir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, staging_dir / name)
    return list(sources)
