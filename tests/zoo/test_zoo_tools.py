"""The tools users reach for next, as the README gives them: ``optuna-dashboard`` on the default SQLite study of
``ppog-zoo train -optimize``, and ``tensorboard --logdir`` on a zoo run's tensorboard folder.

Real servers on loopback ports, read over HTTP; the studies and runs come from real (tiny) ``ppog-zoo train`` runs.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import optuna
import pytest
from zoo_helpers import CARTPOLE_SMALL, FIXED_SMALL, REPO, free_port, run_zoo

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent  # the console scripts of the environment the README's set-up command made


def readme_command(program: str) -> list[str]:
    """The README's (only) command line that starts with ``program``, split as the shell does."""
    lines = [line.strip() for line in (REPO / "README.md").read_text().splitlines() if line.strip().startswith(program + " ")]
    assert len(lines) == 1, f"expected one `{program} ...` line in README.md, found {lines}"
    return shlex.split(lines[0].split("#")[0])


def get_json(url: str, timeout: float, process: subprocess.Popen, log: Path, ready=lambda data: True):
    """GET ``url`` until the server answers with JSON that is ``ready`` (the server starts, then loads)."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                data = json.loads(response.read())
            if ready(data):
                return data
        except (urllib.error.URLError, ConnectionError):
            pass
        assert time.monotonic() < deadline, f"no answer from {url} within {timeout} s:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)


def start(command: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=cwd, stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_optuna_dashboard_on_the_default_study(tmp_path):
    # The README's search command with a tiny budget; no -f: the zoo's default log folder, logs/
    run_zoo(
        "train", "--algo", "ppog", "--env", "CartPole-v1", "-optimize", "--n-trials", "2", "-n", "512",
        "--n-evaluations", "1", "--eval-episodes", "2", "--num-threads", "1", "--no-optim-plots",
        "-params", "n_envs:2", *FIXED_SMALL,
        cwd=tmp_path,
    )  # fmt: skip
    command = readme_command("optuna-dashboard")
    assert command[1] == "sqlite:///logs/ppog/optuna/ppog-CartPole-v1.db"  # relative to the folder it starts in
    study = optuna.load_study(study_name="ppog-CartPole-v1", storage=command[1].replace("///", f"///{tmp_path}/"))
    expected = {trial.number: trial.params for trial in study.get_trials()}
    assert len(expected) == 2

    port, log = free_port(), tmp_path / "dashboard.log"
    dashboard = start([str(BIN / command[0]), *command[1:], "--host", "127.0.0.1", "--port", str(port)], tmp_path, log)
    try:
        base = f"http://127.0.0.1:{port}/api/studies"
        summaries = get_json(base, 120, dashboard, log)["study_summaries"]
        assert [s["study_name"] for s in summaries] == ["ppog-CartPole-v1"]
        detail = get_json(f"{base}/{summaries[0]['study_id']}?after=0", 60, dashboard, log)
        served = {trial["number"]: {p["name"] for p in trial["params"]} for trial in detail["trials"]}
        assert served == {number: set(params) for number, params in expected.items()}
        assert {trial["state"] for trial in detail["trials"]} <= {"Complete", "Pruned"}
    finally:
        stop(dashboard)


def test_tensorboard_on_a_zoo_run(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    command = readme_command("tensorboard")
    logdir = command[command.index("--logdir") + 1]
    run_zoo(
        "train", "--algo", "ppog", "--env", "CartPole-v1", "-n", "512", "--num-threads", "1", "-tb", logdir,
        *CARTPOLE_SMALL,
        cwd=tmp_path,
    )  # fmt: skip
    runs = sorted((tmp_path / logdir / "CartPole-v1").glob("PPOG_*"))
    assert runs, sorted(p.relative_to(tmp_path) for p in (tmp_path / logdir).rglob("*"))
    events = EventAccumulator(str(runs[0]))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for tag in ("train/ent_coef", "train/masked_fraction", "train/policy_gradient_loss", "time/fps"):
        assert tag in tags, sorted(tags)
    assert events.Scalars("train/ent_coef")[-1].step == 512

    port, log = free_port(), tmp_path / "tensorboard.log"
    server = start([str(BIN / command[0]), *command[1:], "--host", "127.0.0.1", "--port", str(port)], tmp_path, log)
    try:
        url = f"http://127.0.0.1:{port}/data/plugin/scalars/tags"
        served = get_json(url, 120, server, log, ready=lambda data: bool(data))
        (run_name,) = served
        assert run_name.endswith("PPOG_1") and "train/ent_coef" in served[run_name], served
    finally:
        stop(server)


def test_optuna_dashboard_opens_the_postgresql_url_as_written(tmp_path, postgres_url):
    """The README's promise: the plain postgresql:// URL of --storage works in optuna and in optuna-dashboard."""
    assert postgres_url.startswith("postgresql://")
    study = optuna.create_study(study_name="dashboard-url-check", storage=postgres_url)
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=2)
    port, log = free_port(), tmp_path / "dashboard.log"
    dashboard = start([str(BIN / "optuna-dashboard"), postgres_url, "--host", "127.0.0.1", "--port", str(port)], tmp_path, log)
    try:
        summaries = get_json(f"http://127.0.0.1:{port}/api/studies", 120, dashboard, log)["study_summaries"]
        assert "dashboard-url-check" in [s["study_name"] for s in summaries]
    finally:
        stop(dashboard)
