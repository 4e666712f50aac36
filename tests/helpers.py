"""Small deterministic environments for the tests (SB3's FakeImageEnv samples from an unseeded space)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class SmallImageEnv(gym.Env):
    """A seeded image env: a random uint8 frame per step; reward 1 when the action matches the frame's brightest
    quadrant. Episodes terminate after a random 8-30 steps; ``max_steps`` adds a time-limit truncation."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, size: int = 36, channels: int = 1, channel_first: bool = False, max_steps: int | None = None):
        shape = (channels, size, size) if channel_first else (size, size, channels)
        self.observation_space = spaces.Box(0, 255, shape, np.uint8)
        self.action_space = spaces.Discrete(4)
        self.max_steps = max_steps
        self.render_mode = "rgb_array"

    def _frame(self) -> np.ndarray:
        frame = self.np_random.integers(0, 128, size=self.observation_space.shape, dtype=np.uint8)
        self._target = int(self.np_random.integers(0, 4))
        h = self.observation_space.shape[1] // 2
        rows, cols = divmod(self._target, 2)
        if self.observation_space.shape[0] <= 4:  # channel first
            frame[:, rows * h : (rows + 1) * h, cols * h : (cols + 1) * h] += 100
        else:
            frame[rows * h : (rows + 1) * h, cols * h : (cols + 1) * h, :] += 100
        self._last = frame
        return frame

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        self._length = int(self.np_random.integers(8, 31))
        return self._frame(), {}

    def step(self, action):
        reward = float(int(action) == self._target)
        self._t += 1
        terminated = self._t >= self._length
        truncated = self.max_steps is not None and self._t >= self.max_steps and not terminated
        return self._frame(), reward, terminated, truncated, {}

    def render(self):
        return np.repeat(self._last[..., :1] if self._last.shape[-1] <= 4 else self._last[:1].transpose(1, 2, 0), 3, -1)
