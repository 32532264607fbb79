"""A folder that holds only what a requirements file installs, to run code as it runs where nothing else is.

The test venv has every dev dependency, so "the Space needs only its requirements.txt" cannot be checked by importing
in it. Instead, :func:`requirements_site` links into a new folder exactly the distributions a requirements file
pulls in (its requirements and theirs, read from the installed metadata, markers evaluated), and
:func:`isolated_python` runs Python with ``-I -S`` (no site-packages, no user site, no PYTHONPATH) and that folder as
its only site directory. An import that the requirements do not cover fails there as it would on a Space.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _requirements(path: Path) -> list[Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def _closure(roots: list[Requirement]) -> dict[str, metadata.Distribution]:
    """Every installed distribution the roots need, transitively (extras followed, markers evaluated)."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(requirement, frozenset(requirement.extras)) for requirement in roots]
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found and not extras:
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                raise
            continue
        found[name] = dist
        for text in dist.requires or []:
            child = Requirement(text)
            if child.marker is not None and not any(child.marker.evaluate({"extra": extra}) for extra in (extras or {""})):
                continue
            todo.append((child, frozenset(child.extras)))
    return found


def _top_level_entries(dist: metadata.Distribution) -> set[str]:
    """The first path component of every file the distribution installed (packages, modules, its dist-info)."""
    entries = set()
    for file in dist.files or []:
        first = Path(file).parts[0]
        if first not in ("..", "__pycache__") and not first.endswith(".pth"):
            entries.add(first)
    return entries


def requirements_site(requirements_file: Path, folder: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """Link the distributions ``requirements_file`` (plus ``extra`` requirement strings) needs into ``folder``;
    returns their names. Only links: nothing is copied or installed."""
    roots = _requirements(requirements_file) + [Requirement(text) for text in extra]
    folder.mkdir(parents=True, exist_ok=True)
    site_packages = Path(metadata.distribution("pip").locate_file(""))
    for dist in _closure(roots).values():
        base = Path(dist.locate_file(""))
        for entry in _top_level_entries(dist):
            source, target = base / entry, folder / entry
            if source.exists() and not target.exists() and base == site_packages:
                target.symlink_to(source)
    return sorted(_closure(roots))


def isolated_python(site: Path) -> list[str]:
    """A command prefix that runs this interpreter with ``site`` as the only place third-party code comes from."""
    bootstrap = f"import site, sys; site.addsitedir({str(site)!r}); sys.argv = sys.argv[1:]; " \
                "import runpy; runpy.run_path(sys.argv[0], run_name='__main__')"
    return [sys.executable, "-I", "-S", "-c", bootstrap]


def isolated_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for :func:`isolated_python`: no PYTHONPATH (``-I`` ignores it anyway)."""
    env = {key: value for key, value in os.environ.items() if not re.match(r"PYTHON(PATH|HOME|STARTUP)$", key)}
    return {**env, **(extra or {})}
