"""The main job as a user lives with it: ``make train`` shows a progress bar, checkpoints, and ``make train RESUME=1``
continues a killed run in the same folder.

The command comes from the Makefile itself (``make -n train``), so the test follows the README's command and breaks
when the Makefile drops a flag; it then runs with a Python that sees only what ``pip install .`` installs.
"""

from __future__ import annotations

import csv
import json
import shlex
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from zoo_helpers import run_zoo, start_zoo, zoo_command, zoo_env

ROOT = Path(__file__).resolve().parents[2]
RUN = Path("ppog") / "ppog-SpaceInvaders-v5_1"


def make_zoo_args(target: str, subcommand: str, variables: list[str]) -> list[str]:
    """The ``ppog-zoo`` arguments of ``make <target>`` with these variables (``make -n``: printed, not run)."""
    printed = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, *variables, "VENV=/venv-of-make"], capture_output=True, text=True, check=True
    )
    lines = [line for line in printed.stdout.replace("\\\n", " ").splitlines() if f"ppog-zoo {subcommand}" in line]
    assert len(lines) == 1, printed.stdout
    words = shlex.split(lines[0])
    assert words[0] == "/venv-of-make/bin/ppog-zoo", words
    return words[1:]


def make_train_args(logs: Path, timesteps: int, checkpoint_freq: int, resume: bool = False) -> list[str]:
    """The ``ppog-zoo`` arguments of ``make train`` with these variables."""
    variables = [f"LOGS={logs}", f"TIMESTEPS={timesteps}", f"CHECKPOINT_FREQ={checkpoint_freq}"]
    return make_zoo_args("train", "train", variables + (["RESUME=1"] if resume else []))


def test_make_train_passes_checkpoints_progress_and_resume():
    """The flags themselves (catches: the Makefile losing -P, --checkpoint-freq or RESUME's --resume)."""
    fresh = make_train_args(Path("logs"), 10_000_000, 100_000)
    assert fresh[:5] == ["train", "--algo", "ppog", "--env", "ppog/SpaceInvaders-v5"]
    assert "-P" in fresh and "--resume" not in fresh
    assert fresh[fresh.index("--checkpoint-freq") + 1] == "100000"
    assert fresh[fresh.index("--verbose") + 1] == "0"  # no SB3 table every 1,024 steps
    assert make_train_args(Path("logs"), 10_000_000, 100_000, resume=True) == [*fresh, "--resume"]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_make_train_killed_midway_resumes_to_the_end(tmp_path):
    """Kill the main job after its second checkpoint, resume it with RESUME=1, and it ends at its budget in the same
    folder with one resume recorded and one row per update (catches: no checkpoints written, --resume not honoured,
    the resumed run starting a new folder or training the whole budget again)."""
    timesteps, freq = 8 * 1024, 1024  # 8 updates of the zoo's 8 x 128 rollout
    logs = tmp_path / "logs"
    log = tmp_path / "first.log"
    first = start_zoo(*make_train_args(logs, timesteps, freq), cwd=tmp_path, log=log)
    marker = logs / RUN / "checkpoint" / "checkpoint.yml"
    deadline = time.monotonic() + 240
    killed_at = None
    try:
        while time.monotonic() < deadline and first.poll() is None:
            if marker.is_file():
                steps = yaml.safe_load(marker.read_text())["num_timesteps"]
                if steps >= 2 * freq:
                    first.send_signal(signal.SIGKILL)
                    killed_at = steps
                    break
            time.sleep(0.05)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait()
    assert killed_at is not None and killed_at < timesteps, f"no checkpoint before the end:\n{log.read_text()[-3000:]}"

    second = subprocess.run(
        zoo_command(*make_train_args(logs, timesteps, freq, resume=True)),
        cwd=tmp_path,
        env=zoo_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-3000:]
    assert not (logs / "ppog" / "ppog-SpaceInvaders-v5_2").exists(), "the resume started a new run folder"
    # the progress bar with elapsed < left, and no SB3 table
    assert "[" in output and " < " in output and "it/s" in output, output[-2000:]
    assert "rollout/" not in output and "| train/" not in output, output[-2000:]

    run_dir = logs / RUN
    with zipfile.ZipFile(run_dir / "ppog-SpaceInvaders-v5.zip") as archive:
        assert json.loads(archive.read("data"))["num_timesteps"] == timesteps
    resumes = _rows(run_dir / "resumes.csv")
    assert len(resumes) == 1
    resumed_at = int(float(next(value for key, value in resumes[0].items() if "step" in key)))
    assert freq * 2 <= resumed_at <= killed_at + freq
    steps = [int(float(row["time/total_timesteps"])) for row in _rows(run_dir / "progress.csv")]
    assert steps == sorted(set(steps)) and steps[-1] == timesteps, steps

    # The report of the main job (README: `ppog-zoo compare ... --x timesteps walltime`): its training segments, each
    # with its machine (catches: run_start.yml not written, segments split anywhere but at the resume, the walltime
    # figure not written)
    from ppog_sb3.common.provenance import machine_description
    from ppog_sb3.experiments.compare import compare

    report = compare(logs, "ppog/SpaceInvaders-v5", output=tmp_path / "report", algos=["ppog"], x=["timesteps", "walltime"])
    segments = report.segments
    assert segments["segment"].tolist() == [1, 2]
    assert segments["from_steps"].tolist() == [0, resumed_at] and segments["to_steps"].tolist() == [resumed_at, timesteps]
    assert segments["machine"].tolist() == [machine_description()] * 2
    assert "## Training segments" in report.markdown
    assert {"learning_curves", "learning_curves_walltime", "segments"} <= set(report.files)


def test_the_committed_main_job_report_regenerates(tmp_path):
    """``results/report_main_job/`` is what ``make train-report`` (README) makes of the committed main-job run folder:
    the final-score table, the per-run scores and the training segments, byte for byte; and the report has both
    curves (steps, training hours) and one segment per training process. Catches a committed report left stale
    after the run's logs were committed again, and a Makefile that lost --x walltime or the segments."""
    from ppog_sb3.experiments.compare import main as compare_main

    logs, committed = ROOT / "results" / "logs" / "main_job", ROOT / "results" / "report_main_job"
    args = make_zoo_args("train-report", "compare", [f"LOGS={logs}", f"TRAIN_REPORT={tmp_path}"])
    assert args[0] == "compare" and args[args.index("--x") + 1 : args.index("--x") + 3] == ["timesteps", "walltime"]
    assert compare_main(args[1:]) == 0
    name = "ppog-SpaceInvaders-v5"
    for file in (f"{name}_final_scores.md", f"{name}_final_scores_per_run.csv", f"{name}_segments.csv"):
        assert (tmp_path / file).read_bytes() == (committed / file).read_bytes(), (
            f"{committed / file} is not what the committed logs give: make train-report LOGS=results/logs/main_job "
            "TRAIN_REPORT=results/report_main_job"
        )
    assert (tmp_path / f"{name}_learning_curves.png").is_file() and (
        tmp_path / f"{name}_learning_curves_walltime.png"
    ).is_file()
    segments = list(csv.DictReader((committed / f"{name}_segments.csv").open()))
    resumes = logs / "ppog" / f"{name}_1" / "resumes.csv"
    assert len(segments) == 1 + (len(_rows(resumes)) if resumes.is_file() else 0)


@pytest.mark.slow
def test_the_committed_main_job_model_plays(tmp_path):
    """``ppog-zoo enjoy`` (the real CLI, core install) plays the main job's committed final model (10M steps), and the
    games it finishes score like a trained agent (a random agent scores about 148). Catches: the model left out of
    the commit (.gitignore), a model the package's code cannot load, an untrained or wrong model committed. (Playing a
    run's checkpoint before it ends, ``--load-last-checkpoint``: tests/zoo/test_zoo_restart_resume.py.)"""
    run = ROOT / "results" / "logs" / "main_job" / RUN
    model = run / "ppog-SpaceInvaders-v5.zip"
    assert model.is_file(), f"{model} is not committed"
    with zipfile.ZipFile(model) as archive:
        steps = json.loads(archive.read("data"))["num_timesteps"]
    assert 10_000_000 <= steps < 10_000_000 + 8 * 128, steps  # the budget, to the end of its last 8 x 128 rollout
    result = run_zoo(
        "enjoy", "--algo", "ppog", "--env", "ppog/SpaceInvaders-v5", "-f", str(run.parents[1]), "--exp-id", "1",
        "--no-render", "-n", "2000", "--num-threads", "1", cwd=tmp_path,
    )  # fmt: skip
    assert f"Loading {model}" in result.stdout, result.describe()
    scores = [float(line.split(":")[1]) for line in result.stdout.splitlines() if line.startswith("Atari Episode Score")]
    assert scores and sum(scores) / len(scores) > 300, result.describe()
