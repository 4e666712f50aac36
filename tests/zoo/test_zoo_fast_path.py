"""The zoo on the fast path, in process, on real ALE: ``ppog/<Game>-v5`` ids get ONE C++ vector env with a game-level
monitor CSV; evaluation counts games; settings the fast env cannot take are clear errors; ``progress.csv``.

Each test plays a few Space Invaders games with random actions (about 1,000 vector steps, a second or two).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch as th
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import CSVOutputFormat
from stable_baselines3.common.monitor import Monitor, load_results
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize
from zoo_helpers import CONFIG

from ppog_sb3 import PPOG
from ppog_sb3.envs import AtariVecEnv, is_plugin_id
from ppog_sb3.zoo.exp_manager import PPOGExperimentManager, ProgressCSVCallback, ZooError
from ppog_sb3.zoo.fast_env import GameVecMonitor, create_test_env, fast_env_options, make_fast_vec_env

ENV_ID = "ppog/SpaceInvaders-v5"
TINY = {
    "n_envs": 2,
    "n_steps": 32,
    "batch_size": 64,
    "n_epochs": 1,
    # fp32 on CPU: bf16 (the config's speed option) is emulated on CPUs without BF16 and ~4x slower there
    "precision": "fp32",
    "channels_last": False,
    "policy_kwargs": "dict(features_extractor_kwargs=dict(features_dim=64))",
}


@pytest.fixture(autouse=True)
def zoo(zoo_registered):
    # One torch thread, as the CLI tests' --num-threads 1: next to the C++ env's worker threads on a 2-core machine,
    # torch's default thread pool makes a tiny update 10-20x slower.
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)


class RandomAgent:
    """Stands in for a model in ``evaluate_policy``: uniform random actions."""

    def __init__(self, n_actions: int, seed: int = 0) -> None:
        self.n_actions = n_actions
        self.rng = np.random.default_rng(seed)

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        return self.rng.integers(0, self.n_actions, size=len(obs)), None


def play_games(env, n_games: int, seed: int = 0):
    """Random play until ``n_games`` games have ended; returns (episode infos, number of dones, raw scores per game)."""
    env.reset()
    rng = np.random.default_rng(seed)
    episodes, n_dones = [], 0
    scores = np.zeros(env.num_envs)
    raw_scores = []
    while len(episodes) < n_games:
        _, rewards, dones, infos = env.step(rng.integers(0, env.action_space.n, size=env.num_envs))
        assert set(np.unique(rewards)) <= {-1.0, 0.0, 1.0}  # training rewards stay clipped
        n_dones += int(dones.sum())
        for i, info in enumerate(infos):
            scores[i] += info["raw_reward"]
            if "episode" in info:
                assert dones[i]
                episodes.append(dict(info["episode"]))
                raw_scores.append(scores[i])
                scores[i] = 0.0
    return episodes, n_dones, raw_scores


def manager(tmp_path: Path, **hyperparams) -> PPOGExperimentManager:
    return PPOGExperimentManager(
        argparse.Namespace(),
        "ppog",
        ENV_ID,
        str(tmp_path / "logs"),
        n_timesteps=64,
        eval_freq=-1,
        hyperparams={**TINY, **hyperparams},
        config=str(CONFIG),
        seed=0,
        verbose=0,
    )


# ---------------------------------------------------------------------- monitor
def test_monitor_csv_is_the_envs_game_episodes(tmp_path):
    env = make_fast_vec_env(ENV_ID, 2, 0, {}, monitor_file=str(tmp_path / "0"), info_keywords=("lives",))
    assert isinstance(env, GameVecMonitor) and isinstance(env.venv, AtariVecEnv) and env.num_envs == 2
    episodes, n_dones, raw_scores = play_games(env, n_games=3)
    env.close()

    header, *_ = (tmp_path / "0.monitor.csv").read_text().splitlines()
    assert json.loads(header[1:]) == {"t_start": env.venv.t_start, "env_id": ENV_ID}
    rows = pd.read_csv(tmp_path / "0.monitor.csv", skiprows=1)
    assert list(rows.columns) == ["r", "l", "t", "lives"]
    # one row per game, the env's own values: no second sum, no per-life rows (life losses are dones too)
    assert len(rows) == env.episode_count == len(episodes) == 3 < n_dones
    assert rows["r"].tolist() == [e["r"] for e in episodes] == pytest.approx(raw_scores)
    assert rows["l"].tolist() == [e["l"] for e in episodes]
    assert rows["t"].tolist() == pytest.approx([e["t"] for e in episodes])
    assert all(length > 100 for length in rows["l"])  # whole games (3 lives), not a life each
    assert any(score > 30 for score in rows["r"])  # unclipped game scores (an invader is worth 5..30 points)

    results = load_results(str(tmp_path))  # the reader of plot_train / results_plotter
    assert results["r"].tolist() == rows["r"].tolist() and results["l"].tolist() == rows["l"].tolist()


def test_a_resumed_monitor_file_continues_its_rows_and_its_clock(tmp_path):
    """``ppog-zoo train --resume`` reopens the monitor file: rows are appended and ``t`` continues from the offset,
    so the file's order is its time order (what ``load_results`` and ``compare`` sort by)."""
    first = make_fast_vec_env(ENV_ID, 2, 0, {}, monitor_file=str(tmp_path / "0"))
    play_games(first, n_games=1)
    first.close()
    kept = pd.read_csv(tmp_path / "0.monitor.csv", skiprows=1)
    offset = float(kept["t"].iloc[-1]) + 1000.0
    second = make_fast_vec_env(ENV_ID, 2, 1, {}, monitor_file=str(tmp_path / "0"), override_existing=False, time_offset=offset)
    episodes, _, _ = play_games(second, n_games=1)
    second.close()
    rows = pd.read_csv(tmp_path / "0.monitor.csv", skiprows=1)
    pd.testing.assert_frame_equal(rows[: len(kept)], kept)
    appended = rows[len(kept) :]
    assert len(appended) >= 1 and appended["t"].min() >= offset and rows["t"].is_monotonic_increasing
    assert appended["t"].iloc[0] == pytest.approx(episodes[0]["t"] + offset)  # info["episode"] keeps the env's own
    assert load_results(str(tmp_path))["r"].tolist() == rows["r"].tolist()


def test_evaluate_policy_counts_games_not_lives():
    env = make_fast_vec_env(ENV_ID, 2, 3, {})  # the evaluation env: no monitor file
    seen = []

    def record(local_vars, _globals):
        if local_vars["done"]:
            seen.append(local_vars["info"].get("episode"))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rewards, lengths = evaluate_policy(
            RandomAgent(int(env.action_space.n)), env, n_eval_episodes=2, return_episode_rewards=True, callback=record
        )
    env.close()
    assert not [w for w in caught if "Monitor" in str(w.message)]  # seen as monitored: no "not wrapped" warning
    games = [episode for episode in seen if episode is not None]
    assert len(rewards) == 2 and len(seen) > len(games)  # life losses were dones, but not episodes
    assert sorted(rewards) == sorted(e["r"] for e in games)
    assert sorted(lengths) == sorted(e["l"] for e in games)
    assert min(lengths) > 100


# ---------------------------------------------------------------------- the manager's envs
def test_manager_builds_one_vector_env_with_monitor(tmp_path, capsys):
    mgr = manager(tmp_path)
    model, _ = mgr.setup_experiment()
    assert isinstance(model, PPOG)
    env = model.get_env()
    assert isinstance(env, GameVecMonitor) and isinstance(env.venv, AtariVecEnv)
    assert env.num_envs == 2 and env.observation_space.shape == (4, 84, 84)
    assert (Path(mgr.save_path) / "0.monitor.csv").is_file()
    assert not list(Path(mgr.save_path).glob("[1-9]*.monitor.csv"))  # one file, not one per env

    eval_env = mgr.create_envs(1, eval_env=True)
    assert isinstance(eval_env, GameVecMonitor) and eval_env.results_writer is None and eval_env.num_envs == 1
    eval_env.close()
    env.close()
    assert "Stacking" not in capsys.readouterr().out


def test_frame_stack_and_env_kwargs_are_env_options(tmp_path):
    mgr = manager(tmp_path, frame_stack=2, env_kwargs={"noop_max": 0, "max_game_steps": 500})
    model, _ = mgr.setup_experiment()
    venv = model.get_env().venv
    assert venv.observation_space.shape == (2, 84, 84)  # stacked in C++, no VecFrameStack
    assert (venv.options.frame_stack, venv.options.noop_max, venv.options.max_episode_steps) == (2, 0, 500)
    eval_venv = mgr.create_envs(1, eval_env=True).venv  # the evaluation env gets the same options
    assert eval_venv.options == venv.options
    eval_venv.close()
    venv.close()


def test_reward_normalization_wraps_above_the_monitor(tmp_path):
    mgr = manager(tmp_path, normalize="dict(norm_obs=False, norm_reward=True)")
    model, _ = mgr.setup_experiment()
    env = model.get_env()
    assert isinstance(env, VecNormalize) and isinstance(env.venv, GameVecMonitor)
    env.close()


@pytest.mark.parametrize(
    ("hyperparams", "needles"),
    [
        ({"normalize": True}, ["observation normalisation", "norm_obs=False"]),
        ({"env_wrapper": "stable_baselines3.common.atari_wrappers.AtariWrapper"}, ["env_wrapper", "C++"]),
        ({"env_kwargs": {"bogus": 1}}, ["'bogus'", "frame_skip"]),
        ({"env_kwargs": {"seed": 3}}, ["'seed'", "--seed"]),
        ({"frame_stack": 2, "env_kwargs": {"frame_stack": 3}}, ["frame_stack", "conflicts"]),
    ],
)
def test_settings_the_fast_env_cannot_take_are_errors(tmp_path, hyperparams, needles):
    with pytest.raises(ZooError) as error:
        manager(tmp_path, **hyperparams).setup_experiment()
    for needle in needles:
        assert needle in str(error.value)


def test_bad_env_option_value_is_a_zoo_error(tmp_path):
    with pytest.raises(ZooError, match="frame_skip=0"):
        manager(tmp_path, env_kwargs={"frame_skip": 0}).setup_experiment()


def test_env_kwargs_are_the_options_both_envs_take_with_one_set_of_defaults():
    """The preprocessing options are defined once (``AtariOptions``): the zoo's ``env_kwargs`` accept them all, and the
    single env, the vector env and ``AtariOptions`` agree on every default and every given value. Breaks caught: a
    default written a second time that differs (e.g. ``noop_max=25`` back in the single env's signature), an option
    one of the envs does not pass on, an option missing from the zoo's accepted ``env_kwargs``."""
    from ppog_sb3.envs.options import OPTION_NAMES, AtariOptions
    from ppog_sb3.zoo.fast_env import accepted_env_kwargs

    assert set(OPTION_NAMES) <= set(accepted_env_kwargs())
    given = {
        "frame_skip": 3,
        "frame_stack": 2,
        "screen_size": 64,
        "noop_max": 5,
        "terminal_on_life_loss": False,
        "clip_reward": False,
        "repeat_action_probability": 0.25,
        "max_episode_steps": 1000,
        "full_action_space": True,
        "use_fire_reset": False,
    }
    assert set(given) | {"action_repeat_probability"} == set(OPTION_NAMES)
    for options in ({}, given):
        single = {("max_game_steps" if k == "max_episode_steps" else k): v for k, v in options.items()}
        env = gym.make(ENV_ID, **single)
        venv = make_fast_vec_env(ENV_ID, 1, 0, dict(options))
        assert env.get_wrapper_attr("options") == venv.venv.options == AtariOptions(game="space_invaders", **options)
        env.close()
        venv.close()


def test_only_the_plugins_ids_take_the_fast_path():
    assert is_plugin_id(ENV_ID) and is_plugin_id("ppog/Breakout-v5")
    assert not is_plugin_id("SpaceInvadersNoFrameskip-v4") and not is_plugin_id("CartPole-v1")
    assert not is_plugin_id("ppog/NoSuchGame-v0")
    assert PPOGExperimentManager.is_atari(ENV_ID) and PPOGExperimentManager.is_atari("SpaceInvadersNoFrameskip-v4")
    assert not PPOGExperimentManager.is_atari("CartPole-v1")
    assert fast_env_options(ENV_ID, {"noop_max": 5}, 4) == {"noop_max": 5, "frame_stack": 4}


# ---------------------------------------------------------------------- enjoy / record_video
def test_create_test_env_fast_path_and_others(tmp_path):
    hyperparams = {"frame_stack": 2, "normalize": False}
    env = create_test_env(ENV_ID, n_envs=2, stats_path=None, seed=1, should_render=False, hyperparams=hyperparams)
    assert isinstance(env, GameVecMonitor) and env.observation_space.shape == (2, 84, 84)
    env.close()
    env = create_test_env(
        ENV_ID, n_envs=1, seed=1, log_dir=str(tmp_path), hyperparams={}, env_kwargs={"render_mode": "rgb_array"}
    )
    assert env.render_mode == "rgb_array" and env.venv.render_mode == "rgb_array"  # record_video's request
    play_games(env, n_games=1)
    env.close()
    assert len(load_results(str(tmp_path))) == 1  # enjoy --reward-log: the game-level monitor file

    other = create_test_env("CartPole-v1", n_envs=1, should_render=False, hyperparams={})  # the zoo's own function
    assert isinstance(other, DummyVecEnv)
    other.close()


def test_human_rendering_uses_the_single_env(monkeypatch):
    # ALE opens an SDL window for "human": the dummy video driver lets it run without a display
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    env = create_test_env(
        ENV_ID, n_envs=1, seed=0, should_render=True, hyperparams={"frame_stack": 4}, env_kwargs={"max_episode_steps": 150}
    )
    assert isinstance(env, DummyVecEnv) and env.render_mode == "human"
    assert env.observation_space.shape == (4, 84, 84)
    monitors, wrapper = [], env.envs[0]
    while isinstance(wrapper, gym.Wrapper):
        monitors += [type(wrapper).__name__] if isinstance(wrapper, Monitor) else []
        wrapper = wrapper.env
    assert monitors == ["AtariGameMonitor"]  # the env's game-level one only: no per-life Monitor of the zoo on top
    episodes, _, raw_scores = play_games(env, n_games=1)  # the game is cut at 150 steps (max_game_steps)
    assert episodes[0]["r"] == pytest.approx(raw_scores[0]) and episodes[0]["l"] <= 150
    env.close()


# ---------------------------------------------------------------------- progress.csv
def test_progress_csv_callback_adds_a_csv_output(tmp_path):
    env = make_fast_vec_env(ENV_ID, 2, 0, {})
    small_cnn = {"features_extractor_kwargs": {"features_dim": 64}}
    model = PPOG("CnnPolicy", env, n_steps=64, batch_size=64, n_epochs=1, seed=0, verbose=0, policy_kwargs=small_cnn)
    callback = ProgressCSVCallback(str(tmp_path / "run" / "progress.csv"))
    model.learn(256, callback=callback)
    output = callback.model.logger.output_formats
    callback.on_training_end()  # idempotent: the zoo calls it a second time on its first callback
    assert callback._output is None and not any(isinstance(f, CSVOutputFormat) for f in output)
    progress = pd.read_csv(tmp_path / "run" / "progress.csv")
    for column in ("time/total_timesteps", "time/fps", "train/clip_fraction", "train/masked_fraction", "train/approx_kl"):
        assert column in progress.columns, column
    assert progress["time/total_timesteps"].tolist() == [128, 256]
    env.close()
