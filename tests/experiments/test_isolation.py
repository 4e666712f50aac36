"""The experiment tools keep out of other code: importing them needs no rl_zoo3 (whose import patches gymnasium's
``TimeLimit``), and running ``ppog-zoo compare`` / ``study report`` in a process leaves its matplotlib backend alone.
Both in a fresh interpreter, the only place where "not imported yet" and "the backend the user chose" are known."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

from experiment_helpers import fake_run, finish_run, write_random_scores, write_study

import ppog_sb3.experiments
from ppog_sb3.experiments.study.spec import load_study


def run_python(code: str, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter (this one's environment plus ``env``); it prints one JSON line last."""
    import os

    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def experiment_modules() -> list[str]:
    package = ppog_sb3.experiments
    return [package.__name__] + [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


def test_every_experiment_module_imports_without_rl_zoo3():
    """Catches an import of the zoo integration (``ppog_sb3.zoo``, which imports rl_zoo3) or of rl_zoo3 itself at the
    top of any comparison or study module."""
    modules = experiment_modules()
    assert {"ppog_sb3.experiments.compare.reading", "ppog_sb3.experiments.study.report"} <= set(modules)
    found = run_python(
        f"""
        import importlib, json, sys
        for name in {modules!r}:
            importlib.import_module(name)
        print(json.dumps(sorted(m for m in sys.modules if m == "rl_zoo3" or m.startswith(("rl_zoo3.", "ppog_sb3.zoo")))))
        """
    )
    assert found == []


def test_compare_and_study_report_leave_the_backend_and_the_zoo_alone(tmp_path: Path):
    """``compare.main`` and the study command's ``report``, called in a process whose backend is ``svg``: the backend
    is still ``svg`` after them, and rl_zoo3 was never imported. Catches a ``matplotlib.use("Agg")`` (the one this
    replaced), or an rl_zoo3 import on the way. (pyplot itself is imported: SB3's ``results_plotter``, whose
    ``ts2xy`` the reader uses, imports it; importing it switches nothing.)"""
    for n, algo in enumerate(("ppog", "ppo", "ppog", "ppo")):
        fake_run(tmp_path / "logs", algo, n + 1, [float(i % 7 + (algo == "ppog")) for i in range(40)])
    study_file = write_study(tmp_path)
    root = tmp_path / "study_logs"
    write_random_scores(root, {"MinAtar/Breakout-v1": 0.4, "MinAtar/SpaceInvaders-v1": 4.0})
    for run in load_study(study_file).runs():
        finish_run(root, run, [float((i * run.seed) % 5 + (run.arm.name == "ppog")) for i in range(30)])
    result = run_python(
        f"""
        import json, sys
        import matplotlib
        before = matplotlib.get_backend()
        from ppog_sb3.experiments import compare
        from ppog_sb3.experiments.study.command import main as study
        codes = [compare.main(["-f", {str(tmp_path / "logs")!r}, "--env", "CartPole-v1", "-o", {str(tmp_path / "cmp")!r}])]
        report = ["report", {str(study_file)!r}, "-f", {str(root)!r}, "-o", {str(tmp_path / "rep")!r}, "--reps", "20"]
        codes.append(study(report))
        after = matplotlib.get_backend()
        print(json.dumps({{"codes": codes, "before": before, "after": after, "rl_zoo3": "rl_zoo3" in sys.modules}}))
        """,
        MPLBACKEND="svg",
    )
    assert result == {"codes": [0, 0], "before": "svg", "after": "svg", "rl_zoo3": False}
    assert (tmp_path / "cmp" / "CartPole-v1_learning_curves.png").read_bytes()[:4] == b"\x89PNG"  # PNGs all the same
    assert (tmp_path / "rep" / "curves_tiny.png").read_bytes()[:4] == b"\x89PNG"
