"""A stand-in for the plugin's fast-path Atari ids, for the zoo tests: ``ppog/FakeInvaders-v0``.

Like ``ppog/SpaceInvaders-v5`` it returns channel-first uint8 ``(4, 84, 84)`` observations (already "stacked"), so the
zoo must neither stack frames again nor transpose. It is loaded with ``--gym-packages ppog_zoo_fake_env`` (the tests
put this folder on ``PYTHONPATH``). Random frames, 6 actions, reward 1 for action 1, episodes of 40 steps.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

ENV_ID = "ppog/FakeInvaders-v0"


class FakeInvadersEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode: str | None = None) -> None:
        self.observation_space = spaces.Box(0, 255, (4, 84, 84), np.uint8)
        self.action_space = spaces.Discrete(6)
        self.render_mode = render_mode
        self._t = 0

    def _obs(self) -> np.ndarray:
        return self.np_random.integers(0, 256, size=(4, 84, 84), dtype=np.uint8)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        self._t += 1
        return self._obs(), float(action == 1), False, self._t >= 40, {}

    def render(self):
        return np.zeros((84, 84, 3), dtype=np.uint8)


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point=f"{__name__}:FakeInvadersEnv")
