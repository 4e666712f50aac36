"""sb3-contrib's own MaskablePPO and RecurrentPPO tests, run on MaskablePPOG and RecurrentPPOG (or on the originals).

Takes the source distribution of the installed sb3-contrib (its ``tests/`` folder; ``pip download`` fetches it, or
``--sdist FILE``), copies :data:`TEST_FILES` into a temporary folder and, unless ``--originals``, rewrites them there:

- every Python *name* ``MaskablePPO`` / ``RecurrentPPO`` becomes ``MaskablePPOG`` / ``RecurrentPPOG`` (found with
  :mod:`tokenize`, so strings and comments stay as sb3-contrib wrote them), imported from ``ppog_sb3``;
- a ``conftest.py`` keeps only the tests of these two algorithms: a test parametrized with algorithm classes runs for
  them only (sb3-contrib's TQC/QRDQN/... cases are not ours to rerun), any other test when its code names one of them.

``--originals`` selects the same tests and runs them on sb3-contrib's own classes: the count to compare with.

Usage (not part of ``make test``; it needs PyPI for the download, and runs sb3-contrib's slow learning tests too)::

    .venv/bin/python tests/sb3_upstream/run_contrib_tests.py                # on MaskablePPOG / RecurrentPPOG
    .venv/bin/python tests/sb3_upstream/run_contrib_tests.py --originals    # on MaskablePPO / RecurrentPPO
    .venv/bin/python tests/sb3_upstream/run_contrib_tests.py -- -m "not slow" -x   # extra pytest arguments after --

Exit status: pytest's (0: every selected test passed).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tokenize
from pathlib import Path

#: sb3-contrib's test files with MaskablePPO or RecurrentPPO cases (``grep -l`` in the 2.9.2 sdist).
TEST_FILES = (
    "test_cnn.py",
    "test_deterministic.py",
    "test_invalid_actions.py",
    "test_lstm.py",
    "test_run.py",
    "test_train_eval_mode.py",
)
RENAMES = {"MaskablePPO": "MaskablePPOG", "RecurrentPPO": "RecurrentPPOG"}

CONFTEST = '''\
"""Written by ppog_sb3's tests/sb3_upstream/run_contrib_tests.py: run the {names} cases of sb3-contrib's tests only."""

import inspect

from stable_baselines3.common.base_class import BaseAlgorithm

from {module} import {names}

SELECTED = ({names},)


def _algorithms(item):
    params = getattr(getattr(item, "callspec", None), "params", {{}})
    return [v for v in params.values() if isinstance(v, type) and issubclass(v, BaseAlgorithm)]


def _names_one(item):
    try:
        source = inspect.getsource(item.function)
    except (OSError, TypeError):
        return False
    return any(cls.__name__ in source for cls in SELECTED)


def pytest_collection_modifyitems(config, items):
    selected, deselected = [], []
    for item in items:
        algorithms = _algorithms(item)
        keep = any(a in SELECTED for a in algorithms) if algorithms else _names_one(item)
        (selected if keep else deselected).append(item)
    config.hook.pytest_deselected(items=deselected)
    items[:] = selected
'''


def rename(source: str) -> str:
    """``source`` with the NAME tokens of :data:`RENAMES` renamed, and the new names imported from ppog_sb3."""
    lines = source.splitlines(keepends=True)
    hits = [
        (token.start, token.string)
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.NAME and token.string in RENAMES
    ]
    for (row, col), name in reversed(hits):  # right to left, so earlier columns stay valid
        line = lines[row - 1]
        lines[row - 1] = line[:col] + RENAMES[name] + line[col + len(name) :]
    out = []
    for line in lines:
        match = re.match(r"^(\s*)from sb3_contrib import (.*?)\s*$", line.rstrip("\n"))
        names = match.group(2).split(", ") if match else []
        ours = [name for name in names if name in RENAMES.values()]
        if ours:
            rest = [name for name in names if name not in ours]
            if rest:
                out.append(f"{match.group(1)}from sb3_contrib import {', '.join(rest)}\n")
            out.append(f"{match.group(1)}from ppog_sb3 import {', '.join(ours)}\n")
        else:
            out.append(line)
    text = "".join(out)
    leftover = [
        line for line in text.splitlines() if "sb3_contrib" in line and re.search(r"\b(MaskablePPOG|RecurrentPPOG)\b", line)
    ]
    if leftover:
        raise RuntimeError(f"an import of the renamed classes from sb3_contrib was not rewritten: {leftover}")
    return text


def sdist(version: str, folder: Path) -> Path:
    """sb3-contrib's source distribution of ``version`` (downloaded into ``folder``)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        + [f"sb3-contrib=={version}", "-d", str(folder)],
        check=True,
    )
    (archive,) = folder.glob("sb3_contrib-*.tar.gz")
    return archive


def prepare(archive: Path, target: Path, originals: bool) -> Path:
    """The (rewritten) test files, sb3-contrib's pytest settings and the selecting conftest in ``target``."""
    with tarfile.open(archive) as tar:
        tar.extractall(target / "src", filter="data")
    (root,) = (target / "src").iterdir()
    tests = target / "tests"
    tests.mkdir()
    for name in TEST_FILES:
        source = (root / "tests" / name).read_text()
        (tests / name).write_text(source if originals else rename(source))
    shutil.copy(root / "pyproject.toml", target / "pyproject.toml")  # sb3-contrib's [tool.pytest.ini_options]
    module, names = ("sb3_contrib", RENAMES) if originals else ("ppog_sb3", RENAMES.values())
    (tests / "conftest.py").write_text(CONFTEST.format(module=module, names=", ".join(names)))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", type=Path, help="sb3-contrib's .tar.gz (default: pip download of the installed version)")
    parser.add_argument("--originals", action="store_true", help="run the same tests on sb3-contrib's own classes")
    parser.add_argument("--keep", type=Path, help="prepare the files in this (new) folder and keep it")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args(argv)
    version = importlib.metadata.version("sb3-contrib")
    work = args.keep or Path(tempfile.mkdtemp(prefix="sb3-contrib-tests-"))
    try:
        work.mkdir(parents=True, exist_ok=True)
        archive = args.sdist or sdist(version, work)
        if f"-{version}." not in archive.name:
            print(f"warning: {archive.name} is not the installed sb3-contrib {version}", file=sys.stderr)
        prepare(archive, work, args.originals)
        which = "MaskablePPO / RecurrentPPO" if args.originals else "MaskablePPOG / RecurrentPPOG"
        print(f"sb3-contrib {version}'s MaskablePPO and RecurrentPPO tests on {which}, in {work / 'tests'}", flush=True)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", *args.pytest_args]
        return subprocess.run(command, cwd=work).returncode
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
