"""The real ``ppog-zoo`` CLI in subprocesses: train -> enjoy -> record_video -> plot_train, configs, bad input.

Budgets are tiny (a few thousand steps, small networks, 2 envs); commands that only read a finished run are started
together, since each spends most of its time importing torch, SB3 and the zoo.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from zoo_helpers import CARTPOLE_SMALL, CONFIG, free_port, run_parallel, run_zoo

from ppog_sb3 import PPOG

pytestmark = pytest.mark.slow


def check_ok(results) -> None:
    for result in results:
        assert result.returncode == 0, result.describe()


def check_run_outputs(tmp_path: Path, env_id: str, results) -> None:
    """enjoy printed its summary, record_video wrote an mp4, plot_train saved a png."""
    check_ok(results)
    enjoy, _record, _plot = results
    assert "Loading" in enjoy.stdout
    videos = list((tmp_path / "logs" / "ppog").glob(f"{env_id}_1/videos/*.mp4"))
    assert videos and videos[0].stat().st_size > 0, results[1].describe()
    assert (tmp_path / "plot.png").stat().st_size > 0, results[2].describe()


def read_followers(tmp_path: Path, env_id: str, enjoy_steps: int, video_steps: int):
    common = ["--algo", "ppog", "--env", env_id, "-f", "logs"]
    return run_parallel(
        [
            ("enjoy", *common, "--no-render", "-n", str(enjoy_steps), "--num-threads", "1"),
            ("record_video", *common, "-n", str(video_steps)),
            ("plot_train", *common, "-w", "1", "-o", "plot.png"),
        ],
        cwd=tmp_path,
    )


def test_console_script_help(tmp_path):
    script = shutil.which("ppog-zoo")
    command = [script] if script else [sys.executable, "-m", "ppog_sb3.zoo"]
    proc = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("train", "enjoy", "record_video", "plot_train", "compare"):
        assert name in proc.stdout


def test_cartpole_train_enjoy_record_video_plot(tmp_path):
    # PPOG's own strings through -params: reach PPOG intact and are parsed by it
    result = run_zoo(
        "train", "--algo", "ppog", "--env", "CartPole-v1", "-conf", str(CONFIG), "-f", "logs", "-n", "2000",
        "--seed", "1", "--num-threads", "1", "--eval-freq", "1000", "--eval-episodes", "2",
        *CARTPOLE_SMALL, "ent_coef:lin_0.01", "vf_learning_rate:lin_1e-4", "ent_coef_decay:0.99", "ent_coef_min:0.001",
        cwd=tmp_path,
    )  # fmt: skip
    assert "Saving to logs/ppog/CartPole-v1_1" in result.stdout
    model_path = tmp_path / "logs" / "ppog" / "CartPole-v1_1" / "CartPole-v1.zip"
    model = PPOG.load(model_path)
    assert isinstance(model, PPOG)
    assert (model.ent_coef, model.vf_learning_rate, model.ent_coef_decay, model.ent_coef_min) == (
        "lin_0.01",
        "lin_1e-4",
        0.99,
        0.001,
    )
    assert model.num_timesteps >= 2000 and model._n_train_updates > 0
    assert model.current_ent_coef >= 0.001  # the floor holds after the decay
    assert model.vf_lr_schedule(1.0) == pytest.approx(1e-4)
    saved = (model_path.parent / "CartPole-v1" / "config.yml").read_text()
    assert "lin_0.01" in saved and "lin_1e-4" in saved  # the zoo saves the strings as given

    check_run_outputs(tmp_path, "CartPole-v1", read_followers(tmp_path, "CartPole-v1", 500, 100))


def test_space_invaders_train_enjoy_record_video_plot(tmp_path):
    env_id = "SpaceInvadersNoFrameskip-v4"
    result = run_zoo(
        "train", "--algo", "ppog", "--env", env_id, "-conf", str(CONFIG), "-f", "logs", "-n", "1024", "--seed", "0",
        "--num-threads", "1", "-params", "n_envs:2", "n_steps:32", "batch_size:64", "n_epochs:1",
        "policy_kwargs:dict(features_extractor_kwargs=dict(features_dim=64))",
        cwd=tmp_path,
    )  # fmt: skip
    assert "Stacking 4 frames" in result.stdout  # the zoo's ALE path: AtariWrapper + frame stack from the config
    model = PPOG.load(tmp_path / "logs" / "ppog" / f"{env_id}_1" / f"{env_id}.zip")
    assert model.observation_space.shape == (4, 84, 84)
    assert model.ent_coef_decay == 0.9997 and model.policy_loss == "ppog"

    check_run_outputs(tmp_path, env_id, read_followers(tmp_path, env_id, 300, 100))


def test_yaml_strings_ppo_and_fast_path_configs(tmp_path):
    """PPOG strings from YAML; ``--algo ppo`` untouched; a fast-path-like id (already stacked) is not re-wrapped."""
    fast = yaml.safe_load(CONFIG.read_text())["ppog/SpaceInvaders-v5"]
    # fp32: the config's bf16 is a GPU speed option, emulated (~4x slower) on CPUs without BF16
    fast.update(n_envs=2, n_steps=32, batch_size=64, n_epochs=1, precision="fp32", channels_last=False)
    custom = {
        "CartPole-v1": {
            "n_envs": 2,
            "n_timesteps": 256,
            "policy": "MlpPolicy",
            "n_steps": 64,
            "batch_size": 64,
            "ent_coef": "lin_0.01",
            "ent_coef_decay": 0.995,
            "ent_coef_min": 0.001,
            "vf_learning_rate": "lin_1e-4",
            "policy_loss": "clip",
            "advantage_estimator": "nstep",
        },
        "ppog/FakeInvaders-v0": {**fast, "n_timesteps": 256},
    }
    (tmp_path / "custom.yml").write_text(yaml.safe_dump(custom))
    fake = ("--env", "ppog/FakeInvaders-v0", "--gym-packages", "ppog_zoo_fake_env")
    results = run_parallel(
        [
            ("train", "--algo", "ppog", "--env", "CartPole-v1", "-conf", "custom.yml", "-f", "logs", "--num-threads", "1"),
            ("train", "--algo", "ppo", "--env", "CartPole-v1", "-f", "logs", "-n", "256", "--num-threads", "1"),
            ("train", "--algo", "ppog", *fake, "-conf", "custom.yml", "-f", "logs", "--num-threads", "1"),
        ],
        cwd=tmp_path,
    )
    check_ok(results)

    model = PPOG.load(tmp_path / "logs" / "ppog" / "CartPole-v1_1" / "CartPole-v1.zip")
    assert (model.ent_coef, model.ent_coef_decay, model.ent_coef_min) == ("lin_0.01", 0.995, 0.001)
    assert (model.vf_learning_rate, model.policy_loss, model.advantage_estimator) == ("lin_1e-4", "clip", "nstep")

    from stable_baselines3 import PPO

    assert isinstance(PPO.load(tmp_path / "logs" / "ppo" / "CartPole-v1_1" / "CartPole-v1.zip"), PPO)

    fake_train = results[2]
    assert "Stacking" not in fake_train.stdout and "VecTransposeImage" not in fake_train.stdout, fake_train.describe()
    model = PPOG.load(tmp_path / "logs" / "ppog" / "ppog-FakeInvaders-v0_1" / "ppog-FakeInvaders-v0.zip")
    assert model.observation_space.shape == (4, 84, 84)
    enjoy = run_zoo(
        "enjoy", "--algo", "ppog", *fake, "-f", "logs", "--no-render", "-n", "100", "--num-threads", "1", cwd=tmp_path
    )
    assert "Stacking" not in enjoy.stdout


#: Columns of progress.csv that ``ppog-zoo compare`` reads.
PROGRESS_COLUMNS = (
    "rollout/ep_rew_mean",
    "train/clip_fraction",
    "train/masked_fraction",
    "train/approx_kl",
    "train/ent_coef",
    "time/total_timesteps",
    "time/fps",
)


def test_fast_path_make_train_command(tmp_path):
    """``make train``'s command line (tiny budget): one C++ vector env, game-level monitor CSV and evaluations,
    progress.csv; then enjoy, record_video, plot_train and all_plots on the run."""
    env_id, folder = "ppog/SpaceInvaders-v5", "ppog-SpaceInvaders-v5"
    result = run_zoo(
        # no -conf, as in the Makefile: the package's zoo_configs/ppog.yml is the default for --algo ppog
        "train", "--algo", "ppog", "--env", env_id, "-f", "logs", "-n", "2048", "--seed", "0",
        "--num-threads", "1", "--eval-freq", "1024", "--eval-episodes", "2",
        # tiny run; the config's speed options (precision: fp32, channels_last) stay as in the Makefile's job
        "-params", "n_envs:2", "n_steps:32", "batch_size:64", "n_epochs:1",
        "policy_kwargs:dict(features_extractor_kwargs=dict(features_dim=64))",
        cwd=tmp_path,
    )  # fmt: skip
    out = result.stdout
    assert f"Loading hyperparameters from: {CONFIG}" in out, result.describe()
    assert "Fast path: ppog/SpaceInvaders-v5 as one ale-py C++ vector env with 2 emulator(s)" in out, result.describe()
    assert "Stacking" not in out and "VecTransposeImage" not in out
    assert "fps" in out and "ep_rew_mean" in out  # SB3's logger on stdout as before

    run = tmp_path / "logs" / "ppog" / f"{folder}_1"
    assert sorted(p.name for p in run.glob("*.monitor.csv")) == ["0.monitor.csv"]
    model = PPOG.load(run / f"{folder}.zip")
    assert model.observation_space.shape == (4, 84, 84) and model.num_timesteps == 2048

    monitor = pd.read_csv(run / "0.monitor.csv", skiprows=1)
    assert list(monitor.columns) == ["r", "l", "t"] and len(monitor) >= 1, result.describe()
    assert (monitor["r"] % 5 == 0).all() and (monitor["l"] > 100).all()  # Space Invaders game scores, whole games
    assert monitor["l"].sum() <= 2048

    progress = pd.read_csv(run / "progress.csv")
    for column in PROGRESS_COLUMNS:
        assert column in progress.columns, column
    assert progress["time/total_timesteps"].max() == 2048
    rollouts = progress.dropna(subset=["rollout/ep_rew_mean"])
    # ep_info_buffer (info["episode"]) and the monitor CSV saw the same games, each once: equal means
    assert rollouts["rollout/ep_rew_mean"].iloc[-1] == pytest.approx(monitor["r"].mean(), rel=1e-3)
    assert rollouts["rollout/ep_len_mean"].iloc[-1] == pytest.approx(monitor["l"].mean(), rel=1e-3)
    assert progress["train/masked_fraction"].notna().any() and progress["train/ent_coef"].notna().any()

    evaluations = np.load(run / "evaluations.npz")
    assert evaluations["timesteps"].tolist() == [1024, 2048]
    assert evaluations["results"].shape == (2, 2) and (evaluations["results"] % 5 == 0).all()  # game scores
    assert (evaluations["ep_lengths"] > 100).all()  # whole games, not lives
    logged = progress.dropna(subset=["eval/mean_reward"])["eval/mean_reward"].tolist()
    assert logged == pytest.approx(evaluations["results"].mean(axis=1).tolist())

    common = ["--algo", "ppog", "--env", env_id, "-f", "logs"]
    followers = run_parallel(
        [
            ("enjoy", *common, "--no-render", "-n", "1500", "--num-threads", "1"),
            ("record_video", *common, "-n", "100"),
            ("plot_train", *common, "-w", "1", "-o", "plot.png"),
            ("all_plots", "-a", "ppog", "-e", env_id, "-f", "logs", "--no-display", "-o", "all_plots"),
        ],
        cwd=tmp_path,
    )
    check_ok(followers)
    enjoy, record, plot, all_plots = followers
    assert "Atari Episode Score" in enjoy.stdout and "Stacking" not in enjoy.stdout, enjoy.describe()
    videos = list((run / "videos").glob("*.mp4"))
    assert videos and videos[0].stat().st_size > 0, record.describe()
    assert (tmp_path / "plot.png").stat().st_size > 0, plot.describe()
    assert folder in all_plots.stdout and (tmp_path / "all_plots.pkl").is_file(), all_plots.describe()


def test_bad_input_is_one_clear_line(tmp_path):
    bad = yaml.safe_load(CONFIG.read_text())
    bad["CartPole-v1"]["ent_coef_decay"] = 1.5
    (tmp_path / "bad.yml").write_text(yaml.safe_dump({"CartPole-v1": bad["CartPole-v1"]}))
    cartpole = ("train", "--algo", "ppog", "--env", "CartPole-v1", "-n", "64", "-f", "logs")
    cases = {
        ("train", "--algo", "nope", "--env", "CartPole-v1"): (2, ["--algo", "invalid choice", "nope"]),
        (*cartpole, "-conf", str(CONFIG), "-params", "foo_bar:1"): (1, ["'foo_bar'", "-params", "not a PPOG argument"]),
        (*cartpole, "-conf", "bad.yml"): (1, ["ent_coef_decay", "bad.yml [CartPole-v1]", "(0, 1]"]),
        (*cartpole, "-conf", str(CONFIG), "-params", "policy_loss:bogus"): (1, ["policy_loss", "bogus", "-params"]),
        (*cartpole, "-conf", str(CONFIG), "-params", "ent_coef:lin_x"): (1, ["ent_coef", "lin_x"]),
        (*cartpole, "-conf", str(CONFIG), "-optimize", "--fixed-params", "net_arch:huge"): (1, ["--fixed-params", "huge"]),
        (
            *cartpole,
            "-conf",
            str(CONFIG),
            "-optimize",
            "--storage",
            f"postgresql://nobody:hunter2@127.0.0.1:{free_port()}/nowhere",
        ): (1, ["cannot open the Optuna storage", "127.0.0.1", "nowhere"]),
        (
            "train",
            "--algo",
            "ppog",
            "--env",
            "ppog/Breakout-v5",
            "-conf",
            str(CONFIG),
        ): (
            1,
            ["no section for ppog/Breakout-v5"],
        ),
        ("enjoy", "--algo", "ppog", "--env", "CartPole-v1", "-f", "no-such-folder", "--no-render"): (
            1,
            ["no-such-folder"],
        ),
    }
    results = run_parallel(list(cases), cwd=tmp_path)
    for result, (code, needles) in zip(results, cases.values()):
        assert result.returncode == code, result.describe()
        assert "Traceback" not in result.stderr, result.describe()
        error_lines = [line for line in result.stderr.splitlines() if "error:" in line]
        assert len(error_lines) == 1, result.describe()
        assert error_lines[0].startswith(f"ppog-zoo {result.args[0]}: error:"), result.describe()
        for needle in needles:
            assert needle in error_lines[0], result.describe()
        assert "hunter2" not in result.stderr
