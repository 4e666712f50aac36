"""PPOG's rollout buffers: SB3's buffers with a choice of advantage estimator and observations kept in their
own dtype.

Both estimators are SB3's own ``RolloutBuffer.compute_returns_and_advantage`` (no copy of its loop):

- ``advantage_estimator="gae"``: GAE(gamma, lambda), SB3's numbers. A step's own termination cuts the bootstrap (the
  course code's one-step-off ``done[t + 1]`` is *not* copied); truncated episodes are bootstrapped by the algorithm,
  which adds ``gamma * V(final observation)`` to the last reward, as SB3 does (SB3 issue #633).
- ``advantage_estimator="nstep"``: the course code's n-step return (``Actor_Critic_Agent.py``):
  ``R_t = r_t + gamma * R_{t+1}``, reset at episode ends, seeded with ``V(s_T)`` at the end of the rollout;
  advantage ``R_t - V(s_t)``. That is GAE with lambda = 1 (the advantages telescope to ``R_t - V(s_t)``), so the
  buffer is built with ``gae_lambda=1`` and the constructor's ``gae_lambda`` is not used.
- Observations are stored in the observation space's dtype (uint8 for images) and converted to float only
  when the policy preprocesses a sampled minibatch; the other arrays are float32 as in SB3.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.type_aliases import RolloutBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

ADVANTAGE_ESTIMATORS = ("gae", "nstep")


def estimator_lambda(advantage_estimator: str, gae_lambda: float) -> float:
    """The lambda SB3's GAE runs with for ``advantage_estimator`` (``"nstep"``: 1); errors name the allowed values."""
    if advantage_estimator not in ADVANTAGE_ESTIMATORS:
        raise ValueError(f"Unknown advantage_estimator={advantage_estimator!r}: allowed values are {ADVANTAGE_ESTIMATORS}.")
    return 1.0 if advantage_estimator == "nstep" else gae_lambda


class PPOGRolloutBuffer(RolloutBuffer):
    """SB3's ``RolloutBuffer`` with ``advantage_estimator`` ("gae" or "nstep") and observations stored in the
    observation space's own dtype (uint8 for Atari frames: a quarter of float32's bytes).

    :param advantage_estimator: ``"gae"`` (default, SB3's numbers) or ``"nstep"`` (GAE with lambda = 1)
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
        gae_lambda = estimator_lambda(advantage_estimator, gae_lambda)
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

    def add(self, obs: np.ndarray, *args: Any, **kwargs: Any) -> None:
        if self.channels_last:
            obs = np.moveaxis(np.asarray(obs), -3, -1)  # (n_envs, C, H, W) -> (n_envs, H, W, C), copied by add()
        super().add(obs, *args, **kwargs)

    def to_torch(self, array: np.ndarray, copy: bool = False) -> th.Tensor:
        """SB3's ``to_torch``, without its second copy by default: the minibatch arrays handed here are already fresh
        copies (fancy indexing), so the tensor can share their memory (on the CPU; other devices copy anyway).
        Saves one memcpy of every minibatch (7 MB for 256 Atari stacks) per sample."""
        return super().to_torch(array, copy=copy)

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> RolloutBufferSamples:
        samples = super()._get_samples(batch_inds, env)
        if self.channels_last:
            # (B, H, W, C) storage viewed as (B, C, H, W): channels-last strides, no copy
            samples = samples._replace(observations=samples.observations.permute(0, 3, 1, 2))
        return samples


class PPOGDictRolloutBuffer(DictRolloutBuffer):
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
        gae_lambda = estimator_lambda(advantage_estimator, gae_lambda)
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
