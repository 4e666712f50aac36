"""PPOG's rollout buffer against SB3's RolloutBuffer and a hand-written n-step reference (property tests)."""

import numpy as np
import torch as th
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer

from ppog_sb3.common.buffers import PPOGDictRolloutBuffer, PPOGRolloutBuffer, rollout_buffer_nbytes


@st.composite
def rollouts(draw):
    """Random rewards, values and episode ends (terminations, or truncations already bootstrapped into the
    reward as the algorithm does) across several envs."""
    n_steps = draw(st.integers(1, 40))
    n_envs = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    done_prob = draw(st.sampled_from([0.0, 0.05, 0.3, 0.9]))
    rng = np.random.default_rng(seed)
    rewards = rng.normal(scale=draw(st.sampled_from([0.1, 1.0, 100.0])), size=(n_steps, n_envs)).astype(np.float32)
    values = rng.normal(size=(n_steps, n_envs)).astype(np.float32)
    dones = rng.random((n_steps, n_envs)) < done_prob  # dones[t]: step t ended an episode
    first_starts = rng.random(n_envs) < 0.5
    last_values = rng.normal(size=n_envs).astype(np.float32)
    gamma = draw(st.floats(0.0, 1.0))
    gae_lambda = draw(st.floats(0.0, 1.0))
    return rewards, values, dones, first_starts, last_values, gamma, gae_lambda


def _fill(buffer, rewards, values, dones, first_starts, obs=None, actions=None):
    n_steps, n_envs = rewards.shape
    episode_start = first_starts
    for t in range(n_steps):
        observation = obs[t] if obs is not None else np.zeros((n_envs, *buffer.obs_shape), dtype=np.float32)
        action = actions[t] if actions is not None else np.zeros((n_envs, 1))
        buffer.add(observation, action, rewards[t], episode_start, th.as_tensor(values[t]), th.zeros(n_envs))
        episode_start = dones[t]


BOX = spaces.Box(-1.0, 1.0, (3,), np.float32)
DISCRETE = spaces.Discrete(4)


@settings(max_examples=150, deadline=None)
@given(rollouts())
def test_gae_equals_sb3(data):
    rewards, values, dones, first_starts, last_values, gamma, lam = data
    n_steps, n_envs = rewards.shape
    ours = PPOGRolloutBuffer(n_steps, BOX, DISCRETE, "cpu", gae_lambda=lam, gamma=gamma, n_envs=n_envs)
    ref = RolloutBuffer(n_steps, BOX, DISCRETE, "cpu", gae_lambda=lam, gamma=gamma, n_envs=n_envs)
    for buffer in (ours, ref):
        _fill(buffer, rewards, values, dones, first_starts)
        buffer.compute_returns_and_advantage(th.as_tensor(last_values), dones[-1])
    np.testing.assert_array_equal(ours.advantages, ref.advantages)
    np.testing.assert_array_equal(ours.returns, ref.returns)


def nstep_reference(rewards, values, dones, last_values, gamma):
    """The course code's n-step return, per env, written with explicit termination flags."""
    n_steps, n_envs = rewards.shape
    returns = np.zeros((n_steps, n_envs))
    for env in range(n_envs):
        running = 0.0 if dones[-1, env] else float(last_values[env])
        for t in reversed(range(n_steps)):
            if dones[t, env]:
                running = 0.0
            running = float(rewards[t, env]) + gamma * running
            returns[t, env] = running
    return returns, returns - values


@settings(max_examples=150, deadline=None)
@given(rollouts())
def test_nstep_equals_reference(data):
    rewards, values, dones, first_starts, last_values, gamma, _ = data
    n_steps, n_envs = rewards.shape
    buffer = PPOGRolloutBuffer(n_steps, BOX, DISCRETE, "cpu", gamma=gamma, n_envs=n_envs, advantage_estimator="nstep")
    _fill(buffer, rewards, values, dones, first_starts)
    buffer.compute_returns_and_advantage(th.as_tensor(last_values), dones[-1])
    returns, advantages = nstep_reference(rewards, values, dones, last_values, gamma)
    atol = 1e-5 * max(1.0, np.abs(returns).max())  # float32 buffer against a float64 reference
    np.testing.assert_allclose(buffer.returns, returns, rtol=1e-4, atol=atol)
    np.testing.assert_allclose(buffer.advantages, advantages, rtol=1e-4, atol=atol)
    # cross-check: n-step returns are GAE's returns with lambda = 1, whatever gae_lambda the buffer was given
    gae = PPOGRolloutBuffer(n_steps, BOX, DISCRETE, "cpu", gae_lambda=1.0, gamma=gamma, n_envs=n_envs)
    nstep = PPOGRolloutBuffer(n_steps, BOX, DISCRETE, "cpu", 0.3, gamma, n_envs, advantage_estimator="nstep")
    for other in (gae, nstep):
        _fill(other, rewards, values, dones, first_starts)
        other.compute_returns_and_advantage(th.as_tensor(last_values), dones[-1])
    np.testing.assert_array_equal(nstep.returns, gae.returns)
    np.testing.assert_array_equal(nstep.advantages, buffer.advantages)


def test_gae_hand_computed():
    """One env, three steps, termination after step 1: the terminal reward does not leak across the boundary."""
    rewards = np.array([[1.0], [2.0], [4.0]], dtype=np.float32)
    values = np.array([[0.5], [0.25], [1.0]], dtype=np.float32)
    dones = np.array([[False], [True], [False]])  # step 1 terminated
    gamma, lam = 0.9, 0.5
    buffer = PPOGRolloutBuffer(3, BOX, DISCRETE, "cpu", gae_lambda=lam, gamma=gamma, n_envs=1)
    _fill(buffer, rewards, values, dones, np.array([True]))
    buffer.compute_returns_and_advantage(th.as_tensor([2.0]), np.array([False]))
    adv = buffer.advantages
    d2 = 4.0 + 0.9 * 2.0 - 1.0
    d1 = 2.0 - 0.25  # terminal: no bootstrap
    d0 = 1.0 + 0.9 * 0.25 - 0.5
    np.testing.assert_allclose(adv[:, 0], [d0 + gamma * lam * d1, d1, d2], rtol=1e-6)


IMAGE = spaces.Box(0, 255, (4, 12, 12), np.uint8)


@settings(max_examples=25, deadline=None)
@given(n_steps=st.integers(1, 8), n_envs=st.integers(1, 4), seed=st.integers(0, 2**32 - 1), channels_last=st.booleans())
def test_uint8_observations_round_trip_exactly(n_steps, n_envs, seed, channels_last):
    rng = np.random.default_rng(seed)
    obs = rng.integers(0, 256, size=(n_steps, n_envs, *IMAGE.shape), dtype=np.uint8)
    actions = rng.integers(0, 4, size=(n_steps, n_envs, 1))
    buffer = PPOGRolloutBuffer(n_steps, IMAGE, DISCRETE, "cpu", n_envs=n_envs, channels_last=channels_last)
    assert buffer.observations.dtype == np.uint8
    rewards = np.zeros((n_steps, n_envs), dtype=np.float32)
    _fill(buffer, rewards, rewards, rewards.astype(bool), np.ones(n_envs, dtype=bool), obs=obs, actions=actions)
    buffer.compute_returns_and_advantage(th.zeros(n_envs), np.zeros(n_envs, dtype=bool))
    batches = list(buffer.get(batch_size=3))
    # the sampled minibatches are still uint8; the policy's preprocessing converts them to float once
    assert all(batch.observations.dtype == th.uint8 for batch in batches)
    assert all(batch.observations.shape[1:] == IMAGE.shape for batch in batches)
    # channels_last: the minibatch is already in the layout the convolutions want (a view, no copy)
    assert all(batch.observations.is_contiguous(memory_format=th.channels_last) == channels_last for batch in batches)
    # every stored (observation, action) pair comes back exactly once, bit for bit
    sampled = np.concatenate([b.observations.contiguous().numpy().reshape(len(b.actions), -1) for b in batches])
    sampled_actions = np.concatenate([b.actions.numpy().reshape(-1) for b in batches])
    stored = obs.reshape(n_steps * n_envs, -1)
    stored_actions = actions.reshape(-1)
    assert sorted(zip(map(bytes, sampled), sampled_actions.astype(int))) == sorted(
        zip(map(bytes, stored), stored_actions.astype(int))
    )


def test_dict_buffer_matches_sb3():
    obs_space = spaces.Dict({"img": IMAGE, "vec": BOX})
    rng = np.random.default_rng(0)
    n_steps, n_envs = 6, 3
    rewards = rng.normal(size=(n_steps, n_envs)).astype(np.float32)
    values = rng.normal(size=(n_steps, n_envs)).astype(np.float32)
    dones = rng.random((n_steps, n_envs)) < 0.3
    ours = PPOGDictRolloutBuffer(n_steps, obs_space, DISCRETE, "cpu", gae_lambda=0.9, gamma=0.97, n_envs=n_envs)
    ref = DictRolloutBuffer(n_steps, obs_space, DISCRETE, "cpu", gae_lambda=0.9, gamma=0.97, n_envs=n_envs)
    for buffer in (ours, ref):
        episode_start = np.ones(n_envs)
        for t in range(n_steps):
            obs = {"img": np.full((n_envs, *IMAGE.shape), t, dtype=np.uint8), "vec": np.zeros((n_envs, 3), np.float32)}
            buffer.add(obs, np.zeros((n_envs, 1)), rewards[t], episode_start, th.as_tensor(values[t]), th.zeros(n_envs))
            episode_start = dones[t]
        buffer.compute_returns_and_advantage(th.ones(n_envs), dones[-1])
    np.testing.assert_array_equal(ours.advantages, ref.advantages)
    assert ours.observations["img"].dtype == np.uint8


def test_unknown_estimator_is_rejected():
    import pytest

    with pytest.raises(ValueError, match="advantage_estimator.*'gae', 'nstep'|advantage_estimator"):
        PPOGRolloutBuffer(4, BOX, DISCRETE, "cpu", advantage_estimator="td0")


def test_nbytes_counts_observations():
    buffer = PPOGRolloutBuffer(8, IMAGE, DISCRETE, "cpu", n_envs=2)
    assert rollout_buffer_nbytes(buffer) >= buffer.observations.nbytes == 8 * 2 * 4 * 12 * 12
