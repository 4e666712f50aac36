"""What ``pip install .`` brings: every import is a declared dependency, the configs ship in the wheel, pip check.

The static check reads every import of the package, the benchmarks (README commands), the notebooks and the README's
Python examples and requires each third-party one to come from a distribution that ``pip install .`` installs (the
notebooks may also use their ``[notebooks]`` extra: a kernel needs IPython). The wheel test builds the wheel, installs
it outside the checkout and runs ``ppog-zoo train --algo ppog`` without ``-conf`` from another folder.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from core_only import core_distributions, core_python, version_differences
from helpers import readme_python_blocks
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # the package supports 3.10: tomli (the [dev] extra's, for Python < 3.11) is the same parser
    import tomli as tomllib


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def imported_modules(source: str) -> set[str]:
    """Top-level names of the absolute imports in ``source`` (anywhere: module level, functions, ``try``)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names - {"__future__"}


def notebook_code(path: Path) -> str:
    """The code cells, without IPython's ``%magic`` / ``!shell`` lines (not Python)."""
    cells = json.loads(path.read_text())["cells"]
    lines = [line for cell in cells if cell["cell_type"] == "code" for line in "".join(cell["source"]).splitlines()]
    return "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))


def undeclared(modules: set[str], allowed: frozenset[str], local: set[str] = frozenset()) -> dict[str, str]:
    """Imported module -> why it is not covered by the ``allowed`` distributions (empty: all fine)."""
    from importlib.metadata import packages_distributions

    providers = packages_distributions()
    problems = {}
    for module in sorted(modules - set(sys.stdlib_module_names) - {"ppog_sb3"} - set(local)):
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists:
            problems[module] = "not installed here at all"
        elif not dists & allowed:
            problems[module] = f"comes from {sorted(dists)}, not a dependency of `pip install .`"
    return problems


def test_every_import_is_a_declared_dependency():
    core = core_distributions()
    with_notebooks = core_distributions(("notebooks",))
    assert "opencv-python-headless" in core and "requests" in core and "psycopg" in core
    assert undeclared({"pytest"}, core) and undeclared({"IPython"}, core)  # the check can fail: dev-only packages

    sources = {str(p.relative_to(REPO)): p.read_text() for p in sorted((REPO / "ppog_sb3").rglob("*.py"))}
    sources |= {str(p.relative_to(REPO)): p.read_text() for p in sorted((REPO / "benchmarks").rglob("*.py"))}
    blocks = readme_python_blocks()
    assert len(blocks) >= 2
    sources |= {f"README.md python block {i}": block for i, block in enumerate(blocks)}
    benchmark_modules = {p.stem for p in (REPO / "benchmarks").rglob("*.py")}  # `from throughput import ...`
    # Decision: modules that need an extra say so where they import it (a one-line ImportError hint) and are listed
    # here with it; everything else needs the core dependencies only
    with_study = core_distributions(("study",))
    needs_extra = {"ppog_sb3/experiments/study/report.py": with_study}
    assert undeclared({"rliable"}, core) and not undeclared({"rliable"}, with_study)
    problems = {}
    for name, source in sources.items():
        for module, why in undeclared(imported_modules(source), needs_extra.get(name, core), benchmark_modules).items():
            problems[f"{name}: import {module}"] = why
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        for module, why in undeclared(imported_modules(notebook_code(path)), with_notebooks).items():
            problems[f"{path.relative_to(REPO)}: import {module}"] = why
    assert not problems, "imports not covered by pyproject.toml's dependencies:\n" + "\n".join(
        f"  {where}: {why}" for where, why in problems.items()
    )


def direct_dependencies(extras: tuple[str, ...] = ()) -> frozenset[str]:
    """Canonical names of the distributions pyproject.toml itself lists (``[project] dependencies`` and ``extras``),
    not what they bring in turn."""
    from packaging.requirements import Requirement

    project = pyproject()["project"]
    texts = [*project["dependencies"], *(t for extra in extras for t in project["optional-dependencies"][extra])]
    return frozenset(canonicalize_name(Requirement(text).name) for text in texts)


def test_every_package_import_is_a_direct_dependency():
    """What ``ppog_sb3`` imports, pyproject.toml names itself: a package that only arrives through another (numpy
    through SB3, SQLAlchemy through Optuna, huggingface_sb3 through rl-zoo3) is gone for our users the day that
    package stops requiring it, while the transitive check above stays green. Catches: deleting ``numpy`` (or
    ``sqlalchemy``, ``sb3-team-hf-integration``) from the dependencies, or a new import of a transitive package."""
    direct = direct_dependencies()
    assert undeclared({"cloudpickle"}, direct) and not undeclared({"cloudpickle"}, core_distributions())  # can fail
    assert not undeclared({"numpy", "sqlalchemy", "huggingface_sb3"}, direct)
    needs_extra = {"ppog_sb3/experiments/study/report.py": direct_dependencies(("study",))}
    problems = {}
    for path in sorted((REPO / "ppog_sb3").rglob("*.py")):
        name = str(path.relative_to(REPO))
        for module, why in undeclared(imported_modules(path.read_text()), needs_extra.get(name, direct)).items():
            problems[f"{name}: import {module}"] = why
    assert not problems, "imports the package makes of packages pyproject.toml does not name:\n" + "\n".join(
        f"  {where}: {why}" for where, why in problems.items()
    )


def test_core_environment_lacks_the_extras():
    """The tests' core-only Python (tests/core_only.py) has the dependencies and none of the [dev] extras' packages."""
    python = core_python()
    ok = subprocess.run([python, "-c", "import cv2, requests, pygame, psycopg, rl_zoo3, ppog_sb3"], capture_output=True)
    assert ok.returncode == 0, ok.stderr.decode()[-2000:]
    for module in ("pytest", "IPython", "optuna_dashboard", "nbclient", "minatar", "rliable"):
        proc = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True)
        assert proc.returncode == 1 and f"No module named '{module}'" in proc.stderr, (module, proc.stderr[-500:])


def test_the_toml_parser_is_declared_for_every_supported_python():
    """This module reads pyproject.toml on every Python the package supports: tomllib from 3.11, tomli (declared in
    ``[dev]`` for older ones) before. Catches the ``[dev]`` line dropped, or a requires-python that admits a Python
    with neither (this module once skipped itself there with ``importorskip("tomllib")``)."""
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    project = pyproject()["project"]
    supported = SpecifierSet(project["requires-python"])
    tomli = [Requirement(r) for r in project["optional-dependencies"]["dev"] if Requirement(r).name == "tomli"]
    without_tomllib = [f"3.{minor}" for minor in range(11) if f"3.{minor}" in supported]
    assert without_tomllib == ["3.10"]  # requires-python >= 3.10
    for version in without_tomllib:
        assert any(r.marker is not None and r.marker.evaluate({"python_version": version}) for r in tomli), version
    assert tomli and all(not r.marker.evaluate({"python_version": "3.11"}) for r in tomli if r.marker is not None)


@pytest.mark.slow
@pytest.mark.parametrize("extras", [(), ("study",)], ids=["core", "core+study"])
def test_core_environment_has_the_versions_pip_install_resolves(extras):
    """The core-only Python of the tests (and its ``[study]`` variant) holds the versions a bare ``pip install .``
    (``".[study]"``) resolves, not only the names: pip is asked (a dry run). Catches ``pandas<3`` only in ``[study]``
    (the core tests ran pandas 2.3 while ``pip install .`` took pandas 3), or any extra narrowing a core package."""
    differences = version_differences(extras)
    assert not differences, "the tests' core environment is not what `pip install` resolves (here, resolved):\n" + "\n".join(
        f"  {name}: {here} != {resolved}" for name, (here, resolved) in differences.items()
    )


def test_core_python_with_an_extra_sees_that_extra_only():
    """``core_python(extras=("study",))``: core plus what ``[study]`` brings (rliable, minatar), not ``[dev]``'s."""
    python = core_python(extras=("study",))
    ok = subprocess.run([python, "-c", "import rliable, minatar, ppog_sb3, rl_zoo3"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr[-2000:]
    proc = subprocess.run([python, "-c", "import pytest"], capture_output=True, text=True)
    assert proc.returncode == 1 and "No module named 'pytest'" in proc.stderr, proc.stderr[-500:]


def test_pip_check_is_clean():
    proc = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_package_list_names_every_package_and_ships_the_configs():
    """pyproject.toml lists the packages by hand (for the zoo_configs mapping): a new package must be added there."""
    settings = pyproject()["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "ppog_sb3").rglob("__init__.py")}
    assert set(settings["packages"]) == on_disk | {"ppog_sb3.zoo_configs"}
    assert settings["package-dir"] == {"ppog_sb3.zoo_configs": "zoo_configs"}
    assert settings["package-data"]["ppog_sb3.zoo_configs"] == ["*.yml", "minatar/*.yml", "space_invaders/*.yml"]
    assert sorted(p.name for p in (REPO / "zoo_configs").glob("*.yml")) == ["ppo.yml", "ppog.yml", "ppog_lstm.yml"]


def test_default_config_is_the_packaged_one_for_ppog_only():
    from ppog_sb3.zoo.configs import default_config, packaged_config

    assert default_config("ppog") == str(packaged_config("ppog.yml"))
    # editable install: the package's file is the checkout's top-level zoo_configs/ (one copy)
    assert Path(default_config("ppog")).resolve() == (REPO / "zoo_configs" / "ppog.yml").resolve()
    assert default_config("ppo") is None  # the zoo's algorithms keep the zoo's own default file
    with pytest.raises(FileNotFoundError, match="nothing.yml is not shipped in ppog_sb3.zoo_configs"):
        packaged_config("nothing.yml")


TINY = ["-n", "256", "--num-threads", "1", "-params", "n_envs:2", "n_steps:64", "batch_size:64", "n_epochs:1"]


@pytest.mark.slow
def test_wheel_outside_the_checkout_finds_its_configs(tmp_path):
    """Built wheel, installed with --target T, run from another folder: --algo ppog reads T's ppog.yml, -conf wins."""
    dist, target, elsewhere = tmp_path / "dist", tmp_path / "T", tmp_path / "elsewhere"
    elsewhere.mkdir()
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(REPO), "-w", str(dist)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = dist.glob("ppog_sb3-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"ppog_sb3/zoo_configs/ppog.yml", "ppog_sb3/zoo_configs/ppo.yml", "ppog_sb3/zoo/configs.py"} <= set(names)
    configs = {f"ppog_sb3/zoo_configs/{p.relative_to(REPO / 'zoo_configs')}" for p in (REPO / "zoo_configs").rglob("*.yml")}
    assert "ppog_sb3/zoo_configs/minatar/study.yml" in configs and configs <= set(names), sorted(configs - set(names))
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "ppog-zoo = ppog_sb3.zoo.cli:main" in entry_points
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    # The project's dependencies only, no editable install: ppog_sb3 can come from T alone
    python = core_python(with_project=False)
    env = dict(os.environ, PYTHONPATH=str(target), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    where = subprocess.run(
        [python, "-c", "import ppog_sb3, ppog_sb3.zoo_configs as c; print(ppog_sb3.__file__); print(c.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0, where.stderr[-2000:]
    for line in where.stdout.split():
        assert Path(line).resolve().is_relative_to(target.resolve()), where.stdout

    def train(*extra: str) -> subprocess.CompletedProcess:
        command = [python, "-m", "ppog_sb3.zoo", "train", "--algo", "ppog", "--env", "CartPole-v1", "-f", "logs"]
        proc = subprocess.run([*command, *extra, *TINY], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc

    packaged = target / "ppog_sb3" / "zoo_configs" / "ppog.yml"
    assert f"Loading hyperparameters from: {packaged}" in train().stdout
    custom = elsewhere / "custom.yml"
    custom.write_text("CartPole-v1:\n  policy: MlpPolicy\n  n_timesteps: 256\n  ent_coef_decay: 0.5\n")
    assert f"Loading hyperparameters from: {custom}" in train("-conf", str(custom)).stdout
    saved = (elsewhere / "logs" / "ppog" / "CartPole-v1_2" / "CartPole-v1" / "config.yml").read_text()
    assert "ent_coef_decay" in saved and "0.5" in saved
