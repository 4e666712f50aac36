"""Entropy-coefficient decay: closed form, floor, schedules, and exact continuation after save/load."""

import pytest
import torch as th
from helpers import assert_same_parameters
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_util import make_vec_env

from ppog_sb3 import PPOG
from ppog_sb3.common.schedules import DecayedSchedule, parse_schedule

TINY = dict(n_steps=16, batch_size=16, n_epochs=1, policy_kwargs=dict(net_arch=[8]), seed=0, device="cpu")


@settings(max_examples=100, deadline=None)
@given(c0=st.floats(1e-4, 1.0), decay=st.floats(0.5, 1.0), floor_fraction=st.floats(0.0, 1.0), k=st.integers(0, 5000))
def test_decayed_schedule_closed_form(c0, decay, floor_fraction, k):
    floor = c0 * floor_fraction
    schedule = DecayedSchedule(parse_schedule(c0, "ent_coef"), decay=decay, floor=floor)
    # reference: the course code's in-place update, applied k times
    value = c0
    for _ in range(k):
        value = max(floor, value * decay)
    assert schedule(1.0, k) == pytest.approx(max(floor, c0 * decay**k), rel=1e-9)
    assert schedule(1.0, k) == pytest.approx(value, rel=1e-6, abs=1e-300)


def test_seed_values_reach_floor_after_about_4000_updates():
    schedule = DecayedSchedule(parse_schedule(0.1, "ent_coef"), decay=0.9996, floor=0.02)
    assert schedule(1.0, 4000) > 0.02
    assert schedule(1.0, 4100) == 0.02


def test_string_schedules():
    assert parse_schedule("lin_0.01", "ent_coef")(1.0) == pytest.approx(0.01)
    assert parse_schedule("lin_0.01", "ent_coef")(0.25) == pytest.approx(0.0025)
    assert parse_schedule("0.02", "ent_coef")(0.3) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="ent_coef.*lin_0.01"):
        parse_schedule("linear", "ent_coef")


def test_model_coefficient_after_k_updates():
    model = PPOG("MlpPolicy", "CartPole-v1", ent_coef=0.1, ent_coef_decay=0.7, ent_coef_min=0.02, **TINY)
    for k in range(1, 7):
        model.learn(16, reset_num_timesteps=False)
        assert model._n_train_updates == k
        assert model.current_ent_coef == pytest.approx(max(0.02, 0.1 * 0.7**k))


def test_schedule_times_decay():
    model = PPOG("MlpPolicy", "CartPole-v1", ent_coef="lin_0.1", ent_coef_decay=0.9, **TINY)
    model.learn(64)
    progress = model._current_progress_remaining
    assert model.current_ent_coef == pytest.approx(0.1 * progress * 0.9**4)


def test_save_load_continues_decay_and_parameters(tmp_path):
    """Train 2N in one go == train N, save, load into a new model on the same env object, train N more."""
    kwargs = dict(ent_coef=0.1, ent_coef_decay=0.8, ent_coef_min=0.01, vf_learning_rate=5e-4, **TINY)
    env_a = make_vec_env("CartPole-v1", n_envs=2, seed=11)
    reference = PPOG("MlpPolicy", env_a, **kwargs)
    reference.learn(160)
    reference.learn(160, reset_num_timesteps=False)

    env_b = make_vec_env("CartPole-v1", n_envs=2, seed=11)
    first = PPOG("MlpPolicy", env_b, **kwargs)
    first.learn(160)
    first.save(tmp_path / "half")
    del first
    th.manual_seed(12345)  # disturb the global RNG: load must restore the saved state
    resumed = PPOG.load(tmp_path / "half", env=env_b, force_reset=False)
    resumed.learn(160, reset_num_timesteps=False)

    assert resumed._n_train_updates == reference._n_train_updates == 10
    assert resumed.current_ent_coef == reference.current_ent_coef
    assert_same_parameters(reference, resumed)
