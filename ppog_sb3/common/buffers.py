"""PPOG's rollout buffers: SB3's buffers with a choice of advantage estimator and observations kept in their
own dtype.

- ``advantage_estimator="gae"``: GAE(gamma, lambda), the same numbers as SB3's ``RolloutBuffer``. A step's own
  termination cuts the bootstrap (the course code's one-step-off ``done[t + 1]`` is *not* copied); truncated
  episodes are bootstrapped by the algorithm, which adds ``gamma * V(final observation)`` to the last reward,
  as SB3 does (SB3 issue #633).
- ``advantage_estimator="nstep"``: the course code's n-step return (``Actor_Critic_Agent.py``):
  ``R_t = r_t + gamma * R_{t+1}``, reset at episode ends, seeded with ``V(s_T)`` at the end of the rollout;
  advantage ``R_t - V(s_t)``. (Mathematically GAE with lambda = 1; kept as its own readable loop.)
- Observations are stored in the observation space's dtype (uint8 for images) and converted to float only
  when the policy preprocesses a sampled minibatch; the other arrays are float32 as in SB3.
"""

from __future__ import annotations

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.type_aliases import RolloutBufferSamples

ADVANTAGE_ESTIMATORS = ("gae", "nstep")


def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    episode_starts: np.ndarray,
    last_values: np.ndarray,
    last_dones: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> np.ndarray:
    """GAE advantages for a ``(n_steps, n_envs)`` rollout, SB3's conventions.

    ``episode_starts[t]`` is 1 where observation ``t`` is the first of an episode, i.e. where step ``t - 1``
    ended one; ``last_dones`` says whether the rollout's last step ended an episode. So the bootstrap of step
    ``t`` is cut by ``episode_starts[t + 1]`` (its own termination), never by ``episode_starts[t]``.
    """
    n_steps = rewards.shape[0]
    advantages = np.zeros_like(rewards, dtype=np.float32)
    last_gae_lam = 0
    for step in reversed(range(n_steps)):
        if step == n_steps - 1:
            next_non_terminal = 1.0 - last_dones.astype(np.float32)
            next_values = last_values
        else:
            next_non_terminal = 1.0 - episode_starts[step + 1]
            next_values = values[step + 1]
        delta = rewards[step] + gamma * next_values * next_non_terminal - values[step]
        last_gae_lam = delta + gamma * gae_lambda * next_non_terminal * last_gae_lam
        advantages[step] = last_gae_lam
    return advantages


def compute_nstep_returns(
    rewards: np.ndarray,
    episode_starts: np.ndarray,
    last_values: np.ndarray,
    last_dones: np.ndarray,
    gamma: float,
) -> np.ndarray:
    """Discounted n-step returns to the end of the rollout, bootstrapped with ``V(s_T)``, reset at episode ends."""
    n_steps = rewards.shape[0]
    returns = np.zeros_like(rewards, dtype=np.float32)
    running = last_values * (1.0 - last_dones.astype(np.float32))
    for step in reversed(range(n_steps)):
        if step < n_steps - 1:
            running = running * (1.0 - episode_starts[step + 1])
        running = rewards[step] + gamma * running
        returns[step] = running
    return returns


class _AdvantageMixin:
    """The advantage computation shared by the flat and the dict buffer."""

    rewards: np.ndarray
    values: np.ndarray
    episode_starts: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray
    gamma: float
    gae_lambda: float
    advantage_estimator: str

    def compute_returns_and_advantage(self, last_values: th.Tensor, dones: np.ndarray) -> None:
        """Fill ``advantages`` and ``returns`` with the chosen estimator (SB3's signature)."""
        last = last_values.clone().cpu().numpy().flatten()
        dones = np.asarray(dones)
        if self.advantage_estimator == "gae":
            self.advantages = compute_gae(
                self.rewards, self.values, self.episode_starts, last, dones, self.gamma, self.gae_lambda
            )
            # TD(lambda) return, as SB3 (PR #375)
            self.returns = self.advantages + self.values
        else:
            self.returns = compute_nstep_returns(self.rewards, self.episode_starts, last, dones, self.gamma)
            self.advantages = self.returns - self.values


def _check_estimator(advantage_estimator: str) -> None:
    if advantage_estimator not in ADVANTAGE_ESTIMATORS:
        raise ValueError(f"Unknown advantage_estimator={advantage_estimator!r}: allowed values are {ADVANTAGE_ESTIMATORS}.")


class PPOGRolloutBuffer(_AdvantageMixin, RolloutBuffer):
    """SB3's ``RolloutBuffer`` with ``advantage_estimator`` ("gae" or "nstep") and observations stored in the
    observation space's own dtype (uint8 for Atari frames: a quarter of float32's bytes).

    :param advantage_estimator: ``"gae"`` (default, SB3's numbers) or ``"nstep"``
    :param channels_last: for channel-first image observations ``(C, H, W)``: store them as ``(H, W, C)`` and hand
        out minibatches as channels-last ``(B, C, H, W)`` views. The layout change then happens once per stored step
        instead of once per sampled minibatch (``n_epochs`` times per step): profiled on NatureCNN, converting a
        uint8 minibatch of 256 Atari frames to channels-last cost about a fifth of its forward and backward pass.
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        gae_lambda: float = 1,
        gamma: float = 0.99,
        n_envs: int = 1,
        advantage_estimator: str = "gae",
        channels_last: bool = False,
    ):
        _check_estimator(advantage_estimator)
        self.advantage_estimator = advantage_estimator
        self.channels_last = channels_last and len(observation_space.shape or ()) == 3
        super().__init__(
            buffer_size, observation_space, action_space, device, gae_lambda=gae_lambda, gamma=gamma, n_envs=n_envs
        )

    def reset(self) -> None:
        super().reset()
        # SB3 >= 2.x already allocates in the space's dtype; pin it so an older or future SB3 cannot silently
        # fall back to float32 (4x the memory for images).
        obs_dtype = self.observation_space.dtype if self.observation_space.dtype is not None else np.float32
        stored_shape = (*self.obs_shape[1:], self.obs_shape[0]) if self.channels_last else self.obs_shape
        if self.observations.dtype != obs_dtype or self.observations.shape[2:] != stored_shape:
            self.observations = np.zeros((self.buffer_size, self.n_envs, *stored_shape), dtype=obs_dtype)

    def add(self, obs: np.ndarray, *args, **kwargs) -> None:  # type: ignore[override]
        if self.channels_last:
            obs = np.moveaxis(np.asarray(obs), -3, -1)  # (n_envs, C, H, W) -> (n_envs, H, W, C), copied by add()
        super().add(obs, *args, **kwargs)

    def _get_samples(self, batch_inds: np.ndarray, env=None) -> RolloutBufferSamples:
        samples = super()._get_samples(batch_inds, env)
        if self.channels_last:
            # (B, H, W, C) storage viewed as (B, C, H, W): channels-last strides, no copy
            samples = samples._replace(observations=samples.observations.permute(0, 3, 1, 2))
        return samples


class PPOGDictRolloutBuffer(_AdvantageMixin, DictRolloutBuffer):
    """SB3's ``DictRolloutBuffer`` with ``advantage_estimator`` (for ``MultiInputPolicy``)."""

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Dict,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        gae_lambda: float = 1,
        gamma: float = 0.99,
        n_envs: int = 1,
        advantage_estimator: str = "gae",
    ):
        _check_estimator(advantage_estimator)
        self.advantage_estimator = advantage_estimator
        super().__init__(
            buffer_size, observation_space, action_space, device, gae_lambda=gae_lambda, gamma=gamma, n_envs=n_envs
        )


def rollout_buffer_nbytes(buffer: RolloutBuffer) -> int:
    """Bytes held by a rollout buffer's numpy arrays (observations included, dict observations summed)."""
    total = 0
    for value in vars(buffer).values():
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif isinstance(value, dict):
            total += sum(v.nbytes for v in value.values() if isinstance(v, np.ndarray))
    return total
