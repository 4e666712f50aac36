"""Resumable ``ppog-zoo train`` runs (``--checkpoint-freq`` / ``--resume``, :mod:`ppog_sb3.zoo.restart_resume`) and the
study runner's use of them: the real CLI in subprocesses on CartPole, real SIGINT/SIGKILL of a training process."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch as th
import yaml
from stable_baselines3 import PPO
from zoo_helpers import CARTPOLE_SMALL, run_parallel, run_zoo

from ppog_sb3 import PPOG
from ppog_sb3.common.provenance import code_version
from ppog_sb3.experiments.study.runner import execute, run_study
from ppog_sb3.experiments.study.spec import is_done, load_study, marker_path, zoo_run_dir
from ppog_sb3.zoo import restart_resume

pytestmark = pytest.mark.slow

N = 4096  # 32 rollouts of 2 envs x 64 steps
FREQ = 1024
ALGOS = {"ppo": PPO, "ppog": PPOG}
#: progress.csv columns that depend only on the step count (the schedules): a resume continues them exactly
SCHEDULES = ["time/total_timesteps", "train/learning_rate", "train/clip_range", "train/n_updates"]


def _train(root: Path, algo: str, *extra: str, check: bool = True, params: tuple[str, ...] = ()):
    args = ["train", "--algo", algo, "--env", "CartPole-v1", "-n", str(N), "--seed", "7", "-f", str(root)]
    args += ["--eval-freq", "-1", "--num-threads", "1", *extra, *CARTPOLE_SMALL, *params]  # -params last
    return run_zoo(*args, cwd=root.parent, check=check)


def _run_dir(root: Path, algo: str) -> Path:
    return root / algo / "CartPole-v1_1"


def _parameters(run_dir: Path, algo: str) -> dict[str, th.Tensor]:
    return ALGOS[algo].load(run_dir / "CartPole-v1.zip", device="cpu").policy.state_dict()


def _assert_equal_parameters(a: dict[str, th.Tensor], b: dict[str, th.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert th.equal(a[key], b[key]), key


def _steps(run_dir: Path) -> int:
    return int(ALGOS[run_dir.parent.name].load(run_dir / "CartPole-v1.zip", device="cpu").num_timesteps)


@pytest.mark.parametrize("algo", ["ppo", "ppog"])
def test_checkpoints_change_nothing_and_a_resume_continues_the_run(tmp_path, algo):
    plain, saved = tmp_path / "plain", tmp_path / "saved"
    _train(plain, algo)
    _train(saved, algo, "--checkpoint-freq", str(FREQ))
    # writing checkpoints does not change what the run computes
    _assert_equal_parameters(_parameters(_run_dir(plain, algo), algo), _parameters(_run_dir(saved, algo), algo))
    reference = pd.read_csv(_run_dir(plain, algo) / "progress.csv")
    with_checkpoints = pd.read_csv(_run_dir(saved, algo) / "progress.csv")
    numbers = [c for c in reference.columns if not c.startswith("time/") or c == "time/total_timesteps"]
    pd.testing.assert_frame_equal(reference[numbers], with_checkpoints[numbers])

    checkpoint = restart_resume.read_checkpoint(_run_dir(saved, algo))
    assert checkpoint is not None and checkpoint.num_timesteps == 3072  # the last boundary >= 1024 steps after 2048
    assert checkpoint.progress_rows == 3072 // 128 and sorted(checkpoint.monitor_rows) == ["0.monitor.csv", "1.monitor.csv"]
    assert {p.name for p in (_run_dir(saved, algo) / "checkpoint").iterdir()} == {"checkpoint.yml", "model_3072_steps.zip"}
    if algo == "ppog":
        # the checkpoint can be watched before the run ends: the zoo's --load-last-checkpoint / --load-checkpoint find
        # it (catches: seams not handing ppog_sb3.zoo.model_path.get_model_path to enjoy or record_video)
        common = ["--algo", algo, "--env", "CartPole-v1", "-f", str(saved), "--exp-id", "1", "-n", "50"]
        enjoy, video = run_parallel(
            [
                ("enjoy", *common, "--no-render", "--load-last-checkpoint"),
                ("record_video", *common, "--load-checkpoint", "3072"),
            ],
            cwd=tmp_path,
        )
        for result in (enjoy, video):
            assert result.returncode == 0 and "checkpoint/model_3072_steps.zip" in result.stdout, result.describe()
        assert list((_run_dir(saved, algo) / "videos").glob("checkpoint-3072-*.mp4")), video.describe()

    # resume the same checkpoint twice, in two copies of the run folder
    copies = []
    for name in ("resumed_a", "resumed_b"):
        root = tmp_path / name
        shutil.copytree(saved, root)
        result = _train(root, algo, "--checkpoint-freq", str(FREQ), "--resume")
        assert "Resuming" in result.stdout and "at step 3072: 1024 steps to go" in result.stdout, result.describe()
        copies.append(_run_dir(root, algo))
    _assert_equal_parameters(_parameters(copies[0], algo), _parameters(copies[1], algo))  # deterministic resume
    assert _steps(copies[0]) == N

    resumed = pd.read_csv(copies[0] / "progress.csv")
    assert len(resumed) == len(reference) == N // 128  # the rows after the checkpoint were cut, then written again
    schedules = SCHEDULES + (["train/ent_coef", "train/vf_learning_rate"] if algo == "ppog" else [])
    pd.testing.assert_frame_equal(reference[schedules], resumed[schedules])
    # rows up to the checkpoint are the uninterrupted run's, and the first row after it carries the update made
    # before the checkpoint (the logger values the checkpoint kept)
    train_columns = [c for c in reference.columns if c.startswith("train/")]
    rows = checkpoint.progress_rows + 1
    pd.testing.assert_frame_equal(reference[train_columns][:rows], resumed[train_columns][:rows])
    for name, count in checkpoint.monitor_rows.items():
        before = pd.read_csv(_run_dir(plain, algo) / name, skiprows=1)[["r", "l"]][:count]
        after = pd.read_csv(copies[0] / name, skiprows=1)
        assert len(after) > count  # games finished after the resume were appended
        pd.testing.assert_frame_equal(before, after[["r", "l"]][:count])
        # and the monitor's clock continues from the checkpoint's training time: the file's order is its time order
        assert after["t"].is_monotonic_increasing and after["t"][count] >= checkpoint.train_seconds
    [resume] = restart_resume.read_resumes(copies[0])
    assert resume["num_timesteps"] == 3072 and resume["train_seconds_before"] == checkpoint.train_seconds
    assert "cores, torch CPU capability" in resume["machine"] and resume["code"]


def test_bad_checkpoint_arguments_name_the_argument(tmp_path):
    result = _train(tmp_path / "logs", "ppo", "--resume", check=False)
    assert result.returncode != 0 and "--resume: no checkpoint in" in result.stdout + result.stderr, result.describe()
    result = _train(tmp_path / "logs", "ppo", "--checkpoint-freq", "-5", check=False)
    assert result.returncode != 0 and "--checkpoint-freq=-5 must be >= 0" in result.stdout + result.stderr, result.describe()


# ---------------------------------------------------------------------- the study runner
STUDY_N = 16384


def _cartpole_study(tmp_path: Path) -> Path:
    section = {"policy": "MlpPolicy", "n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 2}
    section["policy_kwargs"] = "dict(net_arch=[32])"
    (tmp_path / "ppo.yml").write_text(yaml.safe_dump({"CartPole-v1": section}))
    study = {
        "n_timesteps": STUDY_N,
        "checkpoint_freq": FREQ,
        "seeds": [3],
        "games": ["CartPole-v1"],
        "settings": {"tiny": {"ppo": {"algo": "ppo", "conf": "ppo.yml"}}},
        "reference_arm": {"setting": "tiny", "arm": "ppo"},
    }
    (tmp_path / "study.yml").write_text(yaml.safe_dump(study))
    return tmp_path / "study.yml"


def _training_process(marker: str) -> int | None:
    """The pid of the ``ppog_sb3.zoo train`` process whose command line contains ``marker``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"train" in command and any(marker.encode() in part for part in command):
            return int(entry.name)
    return None


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_an_interrupted_study_run_resumes_from_its_checkpoint(tmp_path, how, capsys):
    """Ctrl-C makes the zoo save the model and exit with 0 (rl_zoo3's KeyboardInterrupt handling), kill -9 leaves
    nothing but the checkpoint: either way the run is not done, and the next ``study run`` resumes it."""
    study = load_study(_cartpole_study(tmp_path))
    root = tmp_path / "logs"
    [run] = study.runs()
    run_dir = zoo_run_dir(root, run)
    outcome: list[bool] = []
    worker = threading.Thread(target=lambda: outcome.append(execute(run, root)))
    worker.start()
    deadline = time.time() + 240
    while not (run_dir.is_dir() and restart_resume.read_checkpoint(run_dir) is not None):
        assert time.time() < deadline and worker.is_alive(), "no checkpoint was written"
        time.sleep(0.2)
    pid = _training_process(str(root))
    assert pid is not None
    os.kill(pid, how)
    worker.join(timeout=120)
    assert outcome == [False] and not is_done(root, run)
    printed = capsys.readouterr().out
    assert (f"of {STUDY_N} steps (interrupted?)" if how == signal.SIGINT else "FAILED") in printed
    at = restart_resume.read_checkpoint(run_dir)
    assert at is not None and 0 < at.num_timesteps < STUDY_N

    assert run_study(study, root, study.runs(), workers=1) == 0
    assert f"resuming {run.key} from its checkpoint at step {at.num_timesteps}" in capsys.readouterr().out
    record = yaml.safe_load(marker_path(root, run).read_text())
    assert record["resumed_at_steps"] == [at.num_timesteps] and "--checkpoint-freq 1024" in record["command"]
    # every segment's machine and code, the first one's too; the start file is folded into the marker
    assert [segment["from_step"] for segment in record["segments"]] == [0, at.num_timesteps]
    assert all(segment["code"] == code_version() and segment["machine"] for segment in record["segments"])
    assert not list(marker_path(root, run).parent.glob("*.study_start.yml"))
    assert not (run_dir / "checkpoint").exists()  # a finished run keeps its final model only
    assert _steps(run_dir) == STUDY_N
    steps = pd.read_csv(run_dir / "progress.csv")["time/total_timesteps"].tolist()
    assert steps == list(range(128, STUDY_N + 1, 128))  # every rollout once: nothing lost, nothing twice


def test_a_normalized_run_resumes_with_its_normalization_statistics(tmp_path):
    root = tmp_path / "logs"
    _train(root, "ppo", "--checkpoint-freq", str(FREQ), params=("normalize:True",))
    stats = _run_dir(root, "ppo") / "checkpoint" / "CartPole-v1" / "vecnormalize.pkl"
    assert stats.is_file()
    result = _train(root, "ppo", "--checkpoint-freq", str(FREQ), "--resume", params=("normalize:True",))
    assert "Loading saved VecNormalize stats" in result.stdout and "at step 3072" in result.stdout, result.describe()
    assert _steps(_run_dir(root, "ppo")) == N
