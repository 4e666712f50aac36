"""Gymnasium plugin of ppog_sb3: ``ppog/<Game>-v5`` Atari ids and a fast SB3 ``VecEnv`` over ale-py's C++ vector env.

from ppog_sb3.envs import make_atari_vec_env, register_envs
register_envs()                                    # idempotent; ``import ppog_sb3`` calls it
venv = make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0)   # SB3 VecEnv, (8, 4, 84, 84) uint8
env = gym.make("ppog/SpaceInvaders-v5")            # one env, same preprocessing (SB3's wrappers)
board = gym.make("MinAtar/Breakout-v1")            # MinAtar (register_minatar_envs; the [study] extra's minatar)

This package imports nothing else from ``ppog_sb3``. The heavy parts (SB3, the C++ env) are imported lazily, on
first use of ``make_atari_vec_env`` / ``AtariVecEnv`` / ``PreprocessedAtariEnv``, so registering stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ppog_sb3.envs.games import list_games, resolve_game
from ppog_sb3.envs.minatar import minatar_id, register_minatar_envs
from ppog_sb3.envs.registration import env_id, is_plugin_id, register_envs

if TYPE_CHECKING:
    from ppog_sb3.envs.atari_env import AtariGameMonitor, PreprocessedAtariEnv
    from ppog_sb3.envs.atari_vec_env import AtariVecEnv, make_atari_vec_env
    from ppog_sb3.envs.lanes import LanedVecEnv

__all__ = [
    "AtariGameMonitor",
    "AtariVecEnv",
    "LanedVecEnv",
    "PreprocessedAtariEnv",
    "env_id",
    "is_plugin_id",
    "list_games",
    "make_atari_vec_env",
    "minatar_id",
    "register_envs",
    "register_minatar_envs",
    "resolve_game",
]

_LAZY = {
    "AtariVecEnv": "ppog_sb3.envs.atari_vec_env",
    "make_atari_vec_env": "ppog_sb3.envs.atari_vec_env",
    "LanedVecEnv": "ppog_sb3.envs.lanes",
    "PreprocessedAtariEnv": "ppog_sb3.envs.atari_env",
    "AtariGameMonitor": "ppog_sb3.envs.atari_env",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ppog_sb3.envs' has no attribute {name!r}")
