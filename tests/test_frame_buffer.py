"""FrameStackRolloutBuffer: each frame stored once, the same minibatches as the buffer that stores whole stacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from helpers import CrashAfterCheckpoint, SmallImageEnv, assert_same_parameters
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import CheckpointCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecFrameStack, VecTransposeImage

import ppog_sb3
from ppog_sb3 import PPOG
from ppog_sb3.common.buffers import PPOGRolloutBuffer, rollout_buffer_nbytes
from ppog_sb3.common.frame_buffer import FrameStackRolloutBuffer


def _stacked_rollout(rng, n_steps, n_envs, n_stack, channels, size, start_probability):
    """Observations as VecFrameStack makes them: a stack of the last frames, zero-padded after an episode start."""
    stack = np.zeros((n_envs, n_stack * channels, size, size), dtype=np.uint8)
    starts = rng.random((n_steps, n_envs)) < start_probability
    starts[0] = True
    observations = []
    for t in range(n_steps):
        frame = rng.integers(1, 256, size=(n_envs, channels, size, size), dtype=np.uint8)
        stack = np.where(starts[t][:, None, None, None], 0, np.roll(stack, -channels, axis=1))
        stack[:, -channels:] = frame
        observations.append(stack.copy())
    return observations, starts


def _fill(buffer, observations, starts, rng):
    for obs, start in zip(observations, starts):
        buffer.add(
            obs, rng.integers(0, 3, (len(start), 1)), rng.random(len(start)), start, th.zeros(len(start)), th.zeros(len(start))
        )
    buffer.compute_returns_and_advantage(th.zeros(len(starts[0])), np.zeros(len(starts[0])))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_steps=st.integers(1, 12),
    n_envs=st.integers(1, 3),
    n_stack=st.integers(1, 4),
    channels=st.sampled_from([1, 3]),
    start_probability=st.sampled_from([0.0, 0.2, 0.7]),
    channels_last=st.booleans(),
)
def test_same_minibatches_as_whole_stacks(seed, n_steps, n_envs, n_stack, channels, start_probability, channels_last):
    size = 6
    rng = np.random.default_rng(seed)
    observations, starts = _stacked_rollout(rng, n_steps, n_envs, n_stack, channels, size, start_probability)
    space = spaces.Box(0, 255, (n_stack * channels, size, size), np.uint8)
    kwargs = dict(
        observation_space=space, action_space=spaces.Discrete(3), device="cpu", n_envs=n_envs, channels_last=channels_last
    )
    reference = PPOGRolloutBuffer(n_steps, **kwargs)
    compact = FrameStackRolloutBuffer(n_steps, frame_stack=n_stack, **kwargs)
    _fill(reference, observations, starts, np.random.default_rng(seed))
    _fill(compact, observations, starts, np.random.default_rng(seed))
    np.random.seed(seed)
    expected = list(reference.get(batch_size=5))
    np.random.seed(seed)
    got = list(compact.get(batch_size=5))
    assert len(got) == len(expected)
    for a, b in zip(expected, got):
        assert th.equal(a.observations, b.observations)
        assert a.observations.stride() == b.observations.stride()  # the same layout (channels-last or not)
        assert th.equal(a.actions, b.actions) and th.equal(a.advantages, b.advantages)


def test_an_observation_that_is_not_a_frame_stack_is_refused():
    space = spaces.Box(0, 255, (4, 6, 6), np.uint8)
    buffer = FrameStackRolloutBuffer(4, space, spaces.Discrete(2), device="cpu", frame_stack=4)
    rng = np.random.default_rng(0)
    args = (np.zeros((1, 1)), np.zeros(1), np.zeros(1), th.zeros(1), th.zeros(1))
    buffer.add(rng.integers(0, 256, (1, 4, 6, 6), dtype=np.uint8), *args)
    with pytest.raises(ValueError, match="not a frame stack"):
        buffer.add(rng.integers(0, 256, (1, 4, 6, 6), dtype=np.uint8), *args)
    with pytest.raises(ValueError, match="frame_stack=3 needs channel-first image observations"):
        FrameStackRolloutBuffer(4, space, spaces.Discrete(2), frame_stack=3)


@pytest.mark.parametrize("n_envs, n_steps", [(8, 128), (64, 256)])
def test_memory_is_under_a_third_of_sb3s(n_envs, n_steps):
    space = spaces.Box(0, 255, (4, 84, 84), np.uint8)
    sb3 = RolloutBuffer(n_steps, space, spaces.Discrete(6), device="cpu", n_envs=n_envs)
    compact = FrameStackRolloutBuffer(n_steps, space, spaces.Discrete(6), device="cpu", n_envs=n_envs, frame_stack=4)
    assert rollout_buffer_nbytes(compact) <= 0.3 * rollout_buffer_nbytes(sb3)


def _small_framestack_env():
    # SB3's own pipeline: HWC frames, VecFrameStack on the channel axis, VecTransposeImage to CHW
    return VecTransposeImage(VecFrameStack(make_vec_env(lambda: SmallImageEnv(size=36, max_steps=20), n_envs=2, seed=3), 4))


def _train(env, buffer: bool, n_steps: int = 32, updates: int = 2, **kwargs):
    # buffer=False: PPOG's stacked buffer, named (on the fast path the default is the frame buffer)
    extra = (
        dict(rollout_buffer_class=FrameStackRolloutBuffer, rollout_buffer_kwargs={"frame_stack": 4})
        if buffer
        else dict(rollout_buffer_class=PPOGRolloutBuffer)
    )
    model = PPOG("CnnPolicy", env, n_steps=n_steps, batch_size=64, n_epochs=2, seed=0, device="cpu", **extra, **kwargs)
    model.learn(updates * n_steps * env.num_envs)
    return model


@pytest.mark.parametrize("channels_last", [False, True])
def test_training_is_bit_for_bit_the_same_sb3_frame_stack(channels_last):
    kwargs = dict(channels_last=channels_last, policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=16)))
    reference = _train(_small_framestack_env(), buffer=False, **kwargs)
    compact = _train(_small_framestack_env(), buffer=True, **kwargs)
    assert_same_parameters(reference, compact)


@pytest.mark.slow
def test_training_is_bit_for_bit_the_same_fast_atari_path():
    """The plugin's C++ env on a real game: its life-loss zero padding is what the buffer rebuilds."""
    kwargs = dict(channels_last=True, policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=16)))
    kwargs.update(n_steps=512, updates=1)  # long enough for life losses (Space Invaders: a few hundred agent steps)
    reference = _train(ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=2, seed=1), buffer=False, **kwargs)
    compact = _train(ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=2, seed=1), buffer=True, **kwargs)
    assert compact.rollout_buffer.episode_starts[1:].any(), "no life loss in the rollout: the padding was not exercised"
    assert_same_parameters(reference, compact)


def test_mid_rollout_checkpoint_resumes_exactly(tmp_path):
    kwargs = dict(
        n_steps=32,
        batch_size=32,
        n_epochs=2,
        seed=0,
        device="cpu",
        rollout_buffer_class=FrameStackRolloutBuffer,
        rollout_buffer_kwargs={"frame_stack": 4},
        policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=16)),
    )
    env_a = _small_framestack_env()
    uninterrupted = PPOG("CnnPolicy", env_a, **kwargs)
    uninterrupted.learn(192)

    env_b = _small_framestack_env()
    first = PPOG("CnnPolicy", env_b, **kwargs)
    # a crash right after the checkpoint at 88 steps = one rollout of 64 + 12 steps x 2 envs
    first.learn(192, callback=[CheckpointCallback(save_freq=44, save_path=str(tmp_path)), CrashAfterCheckpoint(44)])
    resumed = PPOG.load(tmp_path / "rl_model_88_steps.zip", env=env_b, force_reset=False)
    assert resumed.rollout_buffer.pos == 0 and resumed._resume_rollout is not None
    resumed.learn(192 - 88, reset_num_timesteps=False)
    assert_same_parameters(uninterrupted, resumed)


def _fast_env(n_envs: int = 2, **options):
    return ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=n_envs, seed=1, **options)


@pytest.mark.filterwarnings("ignore:The environment is already wrapped")  # VecMonitor around the fast env: expected
def test_the_fast_path_stores_each_frame_once_by_default(tmp_path):
    """Issue 26: on the fast Atari path (also inside the zoo's monitor) PPOG's default buffer is the frame buffer, with
    the env's own frame stack, and a loaded model rebuilds it without the env; elsewhere (SB3's VecFrameStack, a
    VecNormalize around the fast env, a user's buffer class) the default stays. Catches the default switched off
    (``fast_path_frame_stack`` returning None), the env's frame stack ignored (frame_stack=2 built as 4), the choice
    lost on load, and the frame buffer chosen under a wrapper that may change observations."""
    from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

    from ppog_sb3.zoo.fast_env import GameVecMonitor

    small = dict(n_steps=8, batch_size=16, n_epochs=1, device="cpu")
    model = PPOG("CnnPolicy", _fast_env(), **small)
    assert type(model.rollout_buffer) is FrameStackRolloutBuffer and model.rollout_buffer.frame_stack == 4
    two = PPOG("CnnPolicy", _fast_env(frame_stack=2), **small)
    assert type(two.rollout_buffer) is FrameStackRolloutBuffer and two.rollout_buffer.frame_stack == 2
    two.save(tmp_path / "two.zip")
    loaded = PPOG.load(tmp_path / "two.zip", device="cpu")  # no env: the buffer comes from the saved settings
    assert type(loaded.rollout_buffer) is FrameStackRolloutBuffer and loaded.rollout_buffer.frame_stack == 2
    for monitored in (VecMonitor(_fast_env()), GameVecMonitor(_fast_env())):
        assert type(PPOG("CnnPolicy", monitored, **small).rollout_buffer) is FrameStackRolloutBuffer

    stacked = VecNormalize(_fast_env(), norm_obs=False, norm_reward=True)
    assert type(PPOG("CnnPolicy", stacked, **small).rollout_buffer) is PPOGRolloutBuffer
    assert type(PPOG("CnnPolicy", _small_framestack_env(), **small).rollout_buffer) is PPOGRolloutBuffer
    forced = PPOG("CnnPolicy", _fast_env(), rollout_buffer_class=PPOGRolloutBuffer, **small)
    assert type(forced.rollout_buffer) is PPOGRolloutBuffer
    assert model.rollout_buffer_kwargs == {"frame_stack": 4} and forced.rollout_buffer_kwargs == {}


def test_the_fast_paths_default_buffer_trains_as_the_stacked_one():
    """The default buffer of the fast path changes memory, not training: bit for bit the stacked buffer's result (a
    short run; the slow test above covers life losses). Catches a default whose minibatches differ from the stacks."""
    kwargs = dict(channels_last=True, policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=16)), n_steps=64)
    model = PPOG("CnnPolicy", _fast_env(), batch_size=64, n_epochs=2, seed=0, device="cpu", **kwargs)
    model.learn(2 * 64 * 2)
    assert type(model.rollout_buffer) is FrameStackRolloutBuffer
    reference = _train(_fast_env(), buffer=False, **kwargs)
    assert_same_parameters(reference, model)
