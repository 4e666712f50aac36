"""What ``pip install .`` installs, and a Python that sees only that.

The suite runs in the ``[dev]`` environment, which holds much more than ``pip install .`` brings: JupyterLab alone
brings ``requests``, the package rl_zoo3 imports in every ``ppog-zoo`` command and that this project once forgot to
declare. A test that passes only because an extra happens to bring a package proves nothing about a user's
``pip install .``. So:

- :func:`core_distributions` is the closure of the project's own requirements (no extras, or the extras named;
  markers evaluated here);
- :func:`core_python` is the interpreter of a virtual environment, made once per test process, whose site-packages
  holds symlinks to exactly those distributions of the test environment (the same files, editable ``ppog_sb3``
  included) and nothing else: the README examples and the ``ppog-zoo`` commands of the tests run with it, so a
  package the project forgets to declare is missing there as on a user's machine. (No console scripts there:
  run ``python -m ppog_sb3.zoo``.) ``core_python(extras=("study",))`` is the same for ``pip install ".[study]"``.

Versions too. The symlinked distributions have the ``[dev]`` environment's versions, and an extra can narrow a core
dependency: ``[study]`` pins ``pandas<3``, so the core tests ran pandas 2.3 while a bare ``pip install .`` took
pandas 3. Decision: the core dependencies pin what the tests run with (``pandas<3`` is a core dependency now), and
:func:`version_differences` asks pip what ``pip install ".[EXTRAS]"`` resolves today, after ``torch`` pinned as the
README's set-up does (``pip install --dry-run --report``), against the versions this environment holds; a test
(tests/test_packaging.py) requires no difference. Why not build the core environment from pip's resolution instead:
it would download and install a second copy of every differing package per test run, and test with versions the
``[dev]`` environment, and so every other test, never sees; a pin in ``pyproject.toml`` makes the two the same for
users as well.
"""

from __future__ import annotations

import atexit
import functools
import importlib.metadata as metadata
import json
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "ppog-sb3"
REPO = Path(__file__).resolve().parents[1]


def _marker_ok(marker: Marker | None, extras: set[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({"extra": extra}) for extra in (extras | {""}))


@functools.cache
def core_distributions(extras: tuple[str, ...] = ()) -> frozenset[str]:
    """Canonical names of the installed distributions that ``pip install ".[EXTRAS]"`` requires (transitively)."""
    done: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [(PROJECT, frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        key = (canonicalize_name(name), wanted)
        if key in done:
            continue
        done.add(key)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # required only under a marker that does not hold here
        names.add(key[0])
        for text in requires:
            requirement = Requirement(text)
            if _marker_ok(requirement.marker, set(wanted)):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return frozenset(names)


def _top_level_entries(dist: metadata.Distribution) -> set[Path]:
    """The files and folders a distribution put directly into site-packages (packages, modules, .pth, dist-info)."""
    if dist.files is None:
        raise RuntimeError(f"{dist.metadata['Name']} has no RECORD: cannot tell its files")
    entries = set()
    for file in dist.files:
        parts = Path(file).parts
        if parts and parts[0] not in ("..", "__pycache__"):
            entries.add(Path(dist.locate_file(parts[0])))
    return entries


@functools.cache
def core_python(with_project: bool = True, extras: tuple[str, ...] = ()) -> str:
    """A Python whose environment holds the core distributions of this one (symlinks) and nothing else.

    ``extras``: plus what these extras of the project bring (``("study",)``: what ``pip install ".[study]"`` installs),
    for a subprocess that needs one. ``with_project=False``: without ``ppog-sb3`` itself (its dependencies only), for
    running an installed wheel's copy from PYTHONPATH with no editable install in the way.
    """
    root = Path(tempfile.mkdtemp(prefix="ppog-core-env-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, capture_output=True)
    python = root / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    here = Path(sysconfig.get_paths()["purelib"]).resolve()
    wanted = core_distributions(tuple(sorted(extras))) - (set() if with_project else {canonicalize_name(PROJECT)})
    for dist in metadata.distributions():
        if canonicalize_name(dist.metadata["Name"]) not in wanted:
            continue
        for entry in _top_level_entries(dist):
            if entry.exists() and entry.resolve().parent == here and not (site / entry.name).exists():
                (site / entry.name).symlink_to(entry)
    return str(python)


def resolved_versions(extras: tuple[str, ...] = ()) -> dict[str, str]:
    """Canonical name -> version of every distribution ``pip install ".[EXTRAS]"`` of the checkout installs into an
    environment that has only torch (pinned to this environment's torch, as the README's set-up installs it first).

    Asks pip (``install --dry-run --ignore-installed --report``), so it needs the package index pip is configured for.
    """
    target = f"{REPO}[{','.join(extras)}]" if extras else str(REPO)
    torch_pin = f"torch=={metadata.version('torch').partition('+')[0]}"
    with tempfile.TemporaryDirectory(prefix="ppog-resolve-") as folder:
        report = Path(folder) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed", "--report"]
        proc = subprocess.run([*command, str(report), torch_pin, target], capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(f"pip could not resolve {target} (is the package index reachable?):\n{proc.stderr[-3000:]}")
        installs = json.loads(report.read_text())["install"]
    return {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"] for item in installs}


def version_differences(extras: tuple[str, ...] = ()) -> dict[str, tuple[str | None, str | None]]:
    """Distribution -> (version in :func:`core_python`'s environment, version ``pip install ".[EXTRAS]"`` resolves), for
    every distribution where the two differ, or that only one of them has (``None`` on the side that lacks it)."""
    here = {name: metadata.version(name) for name in core_distributions(tuple(sorted(extras)))}
    resolved = resolved_versions(extras)
    return {
        name: (here.get(name), resolved.get(name))
        for name in sorted(here.keys() | resolved.keys())
        if here.get(name) != resolved.get(name)
    }
