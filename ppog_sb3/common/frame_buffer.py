"""A rollout buffer that stores each frame of frame-stacked image observations once.

Atari observations are stacks of the last ``n`` frames (``VecFrameStack``, or the plugin's C++ vector env): a
rollout stored as SB3 stores it holds every frame ``n`` times. :class:`FrameStackRolloutBuffer` keeps each step's
newest frame, plus the older frames of the rollout's first observation, and rebuilds the stacks of a sampled
minibatch: ``1 + (n - 1) / n_steps`` of the frames' bytes instead of ``n`` (8 envs x 128 steps x 4 x 84 x 84:
7.2 MB instead of 28.9 MB; ``python benchmarks/buffer_memory.py``).

The stack it rebuilds is the one the env gave: frames of earlier episodes are zeros, as ``VecFrameStack`` (and
the plugin's env, after every ``done``) zero-pads the stack after an episode start. Each ``add`` checks that the
observation is such a stack (its older frames are the previous observation's newer ones, or zeros at an episode
start), so a stack of another kind raises a ``ValueError`` instead of training on frames that never were.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.type_aliases import RolloutBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

from ppog_sb3.common.buffers import PPOGRolloutBuffer


class FrameStackRolloutBuffer(PPOGRolloutBuffer):
    """:class:`~ppog_sb3.common.buffers.PPOGRolloutBuffer` storing each frame of channel-first frame stacks once.

    :param frame_stack: frames per observation, stacked on the first (channel) axis: ``(n * c, H, W)``
    :param channels_last: hand out minibatches as channels-last ``(B, C, H, W)`` views (frames stored ``(H, W, c)``)
    (the other parameters: :class:`~ppog_sb3.common.buffers.PPOGRolloutBuffer`)
    """

    observations: np.ndarray  # here: each (step, env)'s flat index t * n_envs + e, which SB3's get() shuffles along

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
        frame_stack: int = 4,
    ):
        shape = observation_space.shape or ()
        if not (
            isinstance(observation_space, spaces.Box) and len(shape) == 3 and frame_stack >= 1 and shape[0] % frame_stack == 0
        ):
            raise ValueError(
                f"frame_stack={frame_stack!r} needs channel-first image observations (n * c, H, W) with n = frame_stack; "
                f"the observation space is {observation_space!r}."
            )
        self.frame_stack = frame_stack
        self.frame_channels = shape[0] // frame_stack
        super().__init__(
            buffer_size,
            observation_space,
            action_space,
            device,
            gae_lambda=gae_lambda,
            gamma=gamma,
            n_envs=n_envs,
            advantage_estimator=advantage_estimator,
            channels_last=channels_last,
        )

    def reset(self) -> None:
        super().reset()
        n, c = self.frame_stack, self.frame_channels
        height, width = self.obs_shape[1:]
        frame_shape = (height, width, c) if self.channels_last else (c, height, width)
        # row n - 1 + t: the newest frame of observation t; rows 0 .. n - 2: the older frames of observation 0
        self.frames = np.zeros((self.buffer_size + n - 1, self.n_envs, *frame_shape), dtype=self.observation_space.dtype)
        self.observations = np.arange(self.buffer_size * self.n_envs, dtype=np.int64).reshape(self.buffer_size, self.n_envs)
        self._last_start: np.ndarray | None = None
        self._newer: np.ndarray | None = None  # the last added observation's newer frames, (envs, n - 1, ...)

    def add(self, obs: np.ndarray, *args: Any, **kwargs: Any) -> None:
        obs = np.asarray(obs)
        n, c, pos = self.frame_stack, self.frame_channels, self.pos
        episode_start = np.asarray(kwargs.get("episode_start", args[2] if len(args) > 2 else None), dtype=bool)
        frames = obs.reshape(self.n_envs, n, c, *obs.shape[2:])  # (envs, n, c, H, W), oldest first
        if self.channels_last:
            frames = np.moveaxis(frames, 2, -1)  # (envs, n, H, W, c)
        if pos == 0:
            self.frames[: n - 1] = np.swapaxes(frames[:, : n - 1], 0, 1)
        else:
            self._check_stack(frames, episode_start)
        self.frames[pos + n - 1] = frames[:, n - 1]
        self._newer = frames[:, 1:].copy()  # copied: SB3's VecFrameStack hands out the same array at every step
        # SB3's add() stores everything else; as "observation" it stores this step's flat indices
        RolloutBuffer.add(self, self.observations[pos].copy(), *args, **kwargs)

    def _check_stack(self, frames: np.ndarray, episode_start: np.ndarray) -> None:
        """The older frames must be the previous observation's newer ones, or zeros after an episode start."""
        n, pos = self.frame_stack, self.pos
        if n == 1:
            return
        previous = self._newer  # None after a checkpoint's restore: rebuilt from the stored frames
        if previous is None:
            previous = self._stacks(np.full(self.n_envs, pos - 1), np.arange(self.n_envs))[:, 1:]
        older, start = frames[:, : n - 1], episode_start.reshape(-1)
        if older[start].any() or not np.array_equal(older[~start], previous[~start]):
            raise ValueError(
                f"Observation {pos} is not a frame stack of the previous one (frame_stack={n}: its older frames must be "
                "the previous observation's newer ones, or zeros at an episode start, as VecFrameStack makes them). "
                "Use PPOG's default buffer for these observations."
            )

    def _stacks(self, steps: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """The stacked observations of (step, env) pairs, ``(B, n, c, H, W)`` (or ``(B, n, H, W, c)``)."""
        n = self.frame_stack
        offsets = np.arange(n)
        rows = steps[:, None] + offsets[None, :]  # frame j = t - n + 1 + k lives in row j + n - 1 = t + k
        stacks = self.frames[rows, envs[:, None]]
        last_start = self._episode_start_before(steps, envs)
        stacks[(steps[:, None] - n + 1 + offsets[None, :]) < last_start[:, None]] = 0  # frames of an earlier episode
        return stacks

    def _episode_start_before(self, steps: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """The last step ``s <= t`` whose observation starts an episode, per (t, env); ``-n`` where there is none."""
        if self._last_start is not None:
            return self._last_start[steps, envs]
        starts = self.episode_starts[: self.buffer_size].astype(bool)
        marks = np.where(starts, np.arange(self.buffer_size)[:, None], -self.frame_stack)
        last_start = np.maximum.accumulate(marks, axis=0)
        if self.full:
            self._last_start = last_start  # complete: keep it for the minibatches
        return last_start[steps, envs]

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> RolloutBufferSamples:
        samples = RolloutBuffer._get_samples(self, batch_inds, env)
        steps, envs = np.divmod(self.observations[batch_inds].reshape(-1), self.n_envs)
        stacks = self._stacks(steps, envs)
        if self.channels_last:  # (B, n, H, W, c) -> (B, H, W, n * c), handed out as a channels-last (B, C, H, W) view
            # The interleave is torch's concatenation of the n frames along the channel axis, the frame buffer's
            # whole excess over the stacked buffer. Measured on a 256-stack uint8 minibatch, 2 threads (2-core AMD EPYC,
            # AVX2): cat 1.6-1.7 ms, torch's permuted copy 2.8-3.0 (the 2026-12-02 Intel AMX kind's choice), numpy's
            # moveaxis + ascontiguousarray 10-17.
            interleaved = th.cat(th.from_numpy(stacks).unbind(1), dim=-1)
            return samples._replace(observations=interleaved.to(self.device).permute(0, 3, 1, 2))
        return samples._replace(observations=self.to_torch(stacks.reshape(len(steps), -1, *stacks.shape[3:])))

    def checkpoint_lengths(self) -> dict[str, int]:
        """Rows of each array a mid-rollout checkpoint must keep (see :mod:`ppog_sb3.common.exact_resume`)."""
        return {"frames": self.pos + self.frame_stack - 1}
