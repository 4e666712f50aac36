"""Shared pieces of the PPOG-family tests (tests/test_family.py, test_maskable.py, test_recurrent.py): tiny models of
each class on small deterministic envs, and the bit-for-bit comparison of two models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import torch as th
from sb3_contrib.common.envs import InvalidActionEnvDiscrete
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv

from ppog_sb3 import PPOG, MaskablePPOG, RecurrentPPOG


def cartpole(max_episode_steps: int | None = None) -> gym.Env:
    """CartPole; with ``max_episode_steps``, truncations too (the V(final observation) bootstrap)."""
    return gym.make("CartPole-v1", max_episode_steps=max_episode_steps)


def masked_identity(dim: int = 8, n_invalid_actions: int = 5) -> gym.Env:
    """sb3-contrib's identity env: the state's action is rewarded, ``n_invalid_actions`` of the others masked, chosen
    anew each step (with the global numpy generator, which the model's seed sets)."""
    return InvalidActionEnvDiscrete(dim, ep_length=20, n_invalid_actions=n_invalid_actions)


def vec(env_fn: Callable[[], gym.Env], n_envs: int = 2, seed: int = 0) -> VecEnv:
    return make_vec_env(env_fn, n_envs=n_envs, seed=seed)


#: class -> (env factory, tiny constructor arguments): one rollout of 2 envs x 16 steps, two minibatches
FAMILY: dict[type, tuple[Callable[[], gym.Env], dict[str, Any]]] = {
    PPOG: (cartpole, dict(policy="MlpPolicy", policy_kwargs=dict(net_arch=[16]))),
    MaskablePPOG: (masked_identity, dict(policy="MlpPolicy", policy_kwargs=dict(net_arch=[16]))),
    RecurrentPPOG: (cartpole, dict(policy="MlpLstmPolicy", policy_kwargs=dict(lstm_hidden_size=8, net_arch=[16]))),
}
TINY = dict(n_steps=16, batch_size=16, n_epochs=2, seed=3, device="cpu")


def tiny(cls: type, env: VecEnv | None = None, **kwargs: Any) -> Any:
    """A tiny model of ``cls`` (one of :data:`FAMILY`) on its env (2 envs, seed 0, unless given)."""
    env_fn, defaults = FAMILY[cls]
    return cls(env=env if env is not None else vec(env_fn), **{**defaults, **TINY, **kwargs})


def assert_same_state(a: Any, b: Any) -> None:
    """Exactly the same parameters and Adam state (``torch.equal``), learning rates, steps and epochs."""
    params_a, params_b = a.policy.state_dict(), b.policy.state_dict()
    assert params_a.keys() == params_b.keys()
    for key in params_a:
        assert th.equal(params_a[key], params_b[key]), key
    for param_a, param_b in zip(a.policy.parameters(), b.policy.parameters(), strict=True):
        state_a, state_b = a.policy.optimizer.state[param_a], b.policy.optimizer.state[param_b]
        assert state_a.keys() == state_b.keys()
        for name in state_a:
            assert th.equal(th.as_tensor(state_a[name]), th.as_tensor(state_b[name])), name
    assert a.num_timesteps == b.num_timesteps and a._n_updates == b._n_updates


def moved(before: Any, after: Any) -> float:
    """The largest parameter change between two models of the same architecture (a comparison is vacuous at 0)."""
    params = after.policy.state_dict()
    return max((params[k] - v).abs().max().item() for k, v in before.policy.state_dict().items())
