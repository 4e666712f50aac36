"""``ppog-zoo train -optimize``: the default SQLite study resumes; workers share a PostgreSQL study safely.

The PostgreSQL tests use the session server of ``conftest.py`` (they FAIL, not skip, without server binaries).
Heartbeat 1 s and grace period 3 s keep the dead-worker test short; every trial is a 1024-step CartPole run with
the search space pinned to small networks and rollouts (``--fixed-params``).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from zoo_helpers import CONFIG, FIXED_SMALL, run_zoo, start_zoo

from ppog_sb3 import PPOG

pytestmark = pytest.mark.slow

FINISHED_OK = (TrialState.COMPLETE, TrialState.PRUNED)


def search_args(*extra: str) -> list[str]:
    return [
        "train", "--algo", "ppog", "--env", "CartPole-v1", "-conf", str(CONFIG), "-optimize",
        "-n", "1024", "--n-evaluations", "2", "--eval-episodes", "2", "--num-threads", "1", "--no-optim-plots",
        "-params", "n_envs:2", *FIXED_SMALL, *extra,
    ]  # fmt: skip


def load(study_name: str, storage: str) -> optuna.Study:
    return optuna.load_study(study_name=study_name, storage=storage)  # the plain URL, as a user writes it


def wait_all(procs, logs: list[Path], timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    for proc, log in zip(procs, logs):
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except Exception:
            proc.kill()
            raise
        assert proc.returncode == 0, f"worker exited with {proc.returncode}:\n{log.read_text()[-4000:]}"


def test_sqlite_default_study_resumes(tmp_path):
    args = search_args("-f", "logs", "--n-trials", "2", "--sampler", "tpe", "--pruner", "median")
    run_zoo(*args, cwd=tmp_path)
    db = tmp_path / "logs" / "ppog" / "optuna" / "ppog-CartPole-v1.db"
    assert db.is_file()
    storage = f"sqlite:///{db}"
    trials = load("ppog-CartPole-v1", storage).get_trials()
    assert len(trials) == 2 and all(t.state in FINISHED_OK for t in trials)
    assert any(t.intermediate_values for t in trials)  # the zoo's evaluation callback reports for pruning
    assert list((tmp_path / "logs" / "ppog").glob("report_CartPole-v1_*.csv"))

    # Interrupted search resumed: same folder, same default study; and a trial's parameters reused for training
    second = run_zoo(*args, cwd=tmp_path)
    assert "2 trials so far" in second.stdout
    trials = load("ppog-CartPole-v1", storage).get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state in FINISHED_OK for t in trials)

    run_zoo(
        "train", "--algo", "ppog", "--env", "CartPole-v1", "-conf", str(CONFIG), "-f", "logs", "--trial-id", "1",
        "-n", "128", "--num-threads", "1", "--eval-freq", "-1", "-params", "n_envs:2",
        cwd=tmp_path,
    )  # fmt: skip
    (model_path,) = (tmp_path / "logs" / "ppog").glob("CartPole-v1_*/CartPole-v1.zip")  # the searches save no model
    model = PPOG.load(model_path)
    for key in ("ent_coef_decay", "ent_coef_min", "vf_learning_rate", "gamma"):
        assert getattr(model, key) == pytest.approx(trials[1].user_attrs[key])
    assert model.policy_loss == trials[1].params["policy_loss"]


def test_postgres_workers_share_a_study(postgres_url, tmp_path):
    study = "two-workers"
    common = (
        *search_args("--storage", postgres_url, "--study-name", study),
        "--heartbeat-interval",
        "1",
        "--grace-period",
        "3",
    )
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [start_zoo(*common, "-f", f"logs_{i}", "--n-trials", "3", cwd=tmp_path, log=log) for i, log in enumerate(logs)]
    wait_all(procs, logs)
    trials = load(study, postgres_url).get_trials()
    assert len(trials) == 6, "3 trials per worker"
    assert sorted(t.number for t in trials) == list(range(6)), "no trial numbered twice"
    assert all(t.state in FINISHED_OK for t in trials), [t.state for t in trials]

    # --max-total-trials caps the whole study, even with two workers racing for the last trials
    logs = [tmp_path / "c.log", tmp_path / "d.log"]
    procs = [
        start_zoo(*common, "-f", f"logs_{i}", "--max-total-trials", "9", cwd=tmp_path, log=log) for i, log in enumerate(logs)
    ]
    wait_all(procs, logs)
    trials = load(study, postgres_url).get_trials()
    assert sum(t.state in FINISHED_OK for t in trials) == 9
    assert len({t.number for t in trials}) == len(trials)
    for trial in trials:
        assert trial.state != TrialState.RUNNING
        if trial.state == TrialState.FAIL:
            assert "ppog_zoo_over_cap" in trial.user_attrs  # not run: created beyond the cap by a racing worker


def test_postgres_killed_worker_trial_fails_and_study_goes_on(postgres_url, tmp_path):
    study = "killed-worker"
    heartbeat = ("--heartbeat-interval", "1", "--grace-period", "3")
    base = search_args("--storage", postgres_url, "--study-name", study)
    # A worker with one long trial (100k steps), killed while the trial runs
    long_args = [*base, *heartbeat, "-f", "logs_a", "--n-trials", "1"]
    long_args[long_args.index("-n") + 1] = "100000"
    log_a = tmp_path / "a.log"
    worker = start_zoo(*long_args, cwd=tmp_path, log=log_a)
    running = None
    deadline = time.monotonic() + 240
    while running is None and time.monotonic() < deadline:
        assert worker.poll() is None, f"worker exited early:\n{log_a.read_text()[-4000:]}"
        time.sleep(0.5)
        try:
            states = load(study, postgres_url).get_trials(states=(TrialState.RUNNING,))
        except KeyError:  # study not created yet
            continue
        running = states[0] if states else None
    assert running is not None, f"no trial started:\n{log_a.read_text()[-4000:]}"
    time.sleep(1.5)  # mid-trial, heartbeats recorded
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    assert load(study, postgres_url).trials[running.number].state == TrialState.RUNNING
    # The dead worker's last heartbeat is at most the kill's time: past the 3 s grace period + one interval, the trial
    # is stale when the other worker opens the study. Without this wait a worker that starts within 3 s (seen on a
    # fast 2-core machine, 2026-12-04) creates its first trial before the dead one is stale, and the retry comes second.
    time.sleep(3 + 1 + 0.5)

    # Another worker fails the dead trial, queues it again and completes three trials, the retry among them
    other = run_zoo(*base, *heartbeat, "-f", "logs_b", "--max-total-trials", "3", cwd=tmp_path)
    assert f"trial {running.number} of study '{study}'" in other.stderr and "marked FAIL" in other.stderr
    assert "queued again with the same parameters" in other.stderr
    trials = load(study, postgres_url).get_trials()
    assert trials[running.number].state == TrialState.FAIL
    # ... and runs the dead trial's parameters first (--max-retry, default 3; catches: the killed configuration
    # never run again, which biases a search spread over sessions against its slowest configurations)
    retry = trials[running.number + 1]
    assert retry.params == trials[running.number].params and retry.state in FINISHED_OK
    assert retry.system_attrs["failed_trial"] == running.number
    assert sum(t.state in FINISHED_OK for t in trials) == 3, "FAIL trials do not count toward --max-total-trials"
    assert not any(t.state == TrialState.RUNNING for t in trials)
    assert len({t.number for t in trials}) == len(trials) == 4
