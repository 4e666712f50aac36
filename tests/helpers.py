"""Small deterministic environments for the tests (SB3's FakeImageEnv samples from an unseeded space)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback


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


def assert_same_parameters(a, b) -> None:
    """Two models' policies hold exactly the same parameters (``torch.equal``, key by key)."""
    import torch as th

    params_b = b.policy.state_dict()
    for key, value in a.policy.state_dict().items():
        assert th.equal(value, params_b[key]), key


class CrashAfterCheckpoint(BaseCallback):
    """Stops training right after the checkpoint at call ``at_call`` is written, as a crash would."""

    def __init__(self, at_call: int):
        super().__init__()
        self.at_call = at_call

    def _on_step(self) -> bool:
        return self.n_calls < self.at_call


# A small CnnPolicy setup shared by the precision and CUDA tests: 4-channel 36x36 frames, 2 envs, a tiny CNN.
SMALL_CNN = dict(
    n_steps=32, batch_size=32, n_epochs=2, seed=1, policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=32))
)


def image_vec_env():
    from stable_baselines3.common.env_util import make_vec_env

    return make_vec_env(lambda: SmallImageEnv(channels=4, channel_first=True, max_steps=20), n_envs=2, seed=2)


def random_batch(model, n: int = 64):
    """A fixed random minibatch of uint8 observations and actions, on the model's device."""
    import torch as th

    rng = np.random.default_rng(0)
    observations = rng.integers(0, 256, size=(n, *model.observation_space.shape), dtype=np.uint8)
    actions = rng.integers(0, model.action_space.n, size=n)
    return th.as_tensor(observations, device=model.device), th.as_tensor(actions, device=model.device)


def forward_backward(model, observations, actions):
    """Values, log-probs and the gradient of a fixed loss for one batch, through the model's own input path
    (channels_last conversion, autocast), returned on the CPU."""
    model.policy.optimizer.zero_grad()
    with model._autocast():
        values, log_prob, entropy = model.policy.evaluate_actions(model._model_input(observations), actions)
    loss = (values.float() ** 2).mean() - log_prob.float().mean() - 0.01 * entropy.float().mean()
    loss.backward()
    grads = {name: p.grad.detach().cpu().clone() for name, p in model.policy.named_parameters()}
    return values.float().detach().cpu(), log_prob.float().detach().cpu(), grads


README = Path(__file__).resolve().parents[1] / "README.md"

#: A fenced block of a Markdown file: its indentation (inside a list item), language and body.
FENCE = re.compile(r"^( *)```(\S*)\n(.*?)^\1```", flags=re.S | re.M)


def readme_blocks(readme: Path = README) -> list[tuple[str, str]]:
    """(language, code) of every fenced block of ``readme``, in order; blocks indented in a list item are dedented."""
    return [(language, textwrap.dedent(body)) for _, language, body in FENCE.findall(readme.read_text())]


def readme_python_blocks(readme: Path = README) -> list[str]:
    """The code of the ``python`` fenced blocks (what the README test runs and the packaging test reads)."""
    return [code for language, code in readme_blocks(readme) if language == "python"]
