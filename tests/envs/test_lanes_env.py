"""``make_atari_vec_env(..., lanes=k)``: the ``LanedVecEnv`` of k C++ envs is, as a ``VecEnv``, the one env of
``n_envs`` (ppog_sb3/envs/lanes.py). PPOG's rollout in lanes is tested in tests/test_lane_rollout.py."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.monitor import Monitor

from ppog_sb3.envs import AtariVecEnv, LanedVecEnv, make_atari_vec_env


def _without_time(infos):
    return [{k: ({**v, "t": None} if k == "episode" else v) for k, v in info.items()} for info in infos]


def test_lanes_step_as_the_one_env_of_all_their_emulators():
    """300 steps of the same random actions (episodes end and life losses pad stacks in them): the same
    observations, rewards, dones and infos (``np.array_equal``) as the one 8-env C++ env. Catches env ``i`` seeded
    with anything but ``seed + i`` (seen red with the lanes' ``seed + offset`` replaced by ``seed``) and the lanes'
    results joined out of order."""
    one = make_atari_vec_env("Breakout", n_envs=8, seed=3)
    laned = make_atari_vec_env("Breakout", n_envs=8, seed=3, lanes=2)
    assert isinstance(laned, LanedVecEnv) and [type(lane) for lane in laned.lanes] == [AtariVecEnv] * 2
    assert [lane.num_envs for lane in laned.lanes] == [4, 4] and laned.get_attr("num_threads") == [1] * 8
    assert np.array_equal(one.reset(), laned.reset())
    assert one.reset_infos == laned.reset_infos
    rng = np.random.default_rng(0)
    dones_seen = 0
    for _ in range(300):
        actions = rng.integers(0, one.action_space.n, size=8)
        a, b = one.step(actions), laned.step(actions)
        for x, y in zip(a[:3], b[:3], strict=True):
            assert np.array_equal(x, y)
        for info_a, info_b in zip(_without_time(a[3]), _without_time(b[3]), strict=True):
            assert info_a.keys() == info_b.keys()
            for key in info_a:
                assert (
                    np.array_equal(info_a[key], info_b[key]) if key == "terminal_observation" else info_a[key] == info_b[key]
                )
        dones_seen += int(a[2].sum())
    assert dones_seen > 0
    one.close()
    laned.close()


def test_attributes_and_methods_reach_the_right_lane():
    one = make_atari_vec_env("Breakout", n_envs=4, seed=0)
    laned = make_atari_vec_env("Breakout", n_envs=4, seed=0, lanes=2)
    assert laned.stacked_frames == one.stacked_frames and laned.options == one.options
    assert laned.observation_space == one.observation_space and laned.action_space == one.action_space
    one.reset(), laned.reset()
    assert laned.get_attr("lives", indices=[3, 0, 2]) == one.get_attr("lives", indices=[3, 0, 2])
    assert laned.env_method("get_action_meanings", indices=[1, 2]) == one.env_method("get_action_meanings", indices=[1, 2])
    assert laned.env_is_wrapped(Monitor) == one.env_is_wrapped(Monitor) == [True] * 4  # the adapter is its own Monitor
    assert len(laned.get_images()) == 4
    with pytest.raises(AttributeError, match="cannot set"):
        laned.set_attr("frame_skip", 2)
    with pytest.raises(IndexError, match="allowed values: 0 to 3"):
        laned.get_attr("lives", indices=[4])
    laned.close()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(n_envs=8, lanes=3), r"lanes=3 is not allowed with n_envs=8; allowed values: a divisor of n_envs"),
        (dict(n_envs=8, lanes=0), r"lanes=0 is not allowed; allowed values: an int >= 1"),
        (dict(n_envs=8, lanes="2"), r"lanes='2' is not allowed"),
        (dict(n_envs=8, lanes=2, num_threads=0), r"num_threads=0 is not allowed"),
    ],
)
def test_bad_lanes_are_refused_naming_the_argument(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        make_atari_vec_env("Breakout", **kwargs)


def test_a_laned_env_needs_two_lanes_with_the_same_spaces():
    cartpole = make_vec_env("CartPole-v1", n_envs=1)
    with pytest.raises(ValueError, match="at least 2 VecEnvs"):
        LanedVecEnv([cartpole])
    with pytest.raises(ValueError, match="the same observation and action spaces"):
        LanedVecEnv([cartpole, make_vec_env("MountainCar-v0", n_envs=1)])
    laned = LanedVecEnv([cartpole, make_vec_env("CartPole-v1", n_envs=2)])
    assert laned.num_envs == 3 and laned.offsets == [0, 1]
    assert isinstance(laned.action_space, spaces.Discrete)
    with pytest.raises(ValueError, match="an array of 3 actions"):
        laned.step(np.zeros(2, dtype=np.int64))
