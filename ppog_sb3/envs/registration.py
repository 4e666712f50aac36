"""Gymnasium registration of the ``ppog/<Game>-v5`` ids (one per single-player ALE game, Space Invaders first).

Each id has an ``entry_point`` (``gym.make``: one preprocessed env, ``PreprocessedAtariEnv``) and a
``vector_entry_point`` (``gym.make_vec``: the fast SB3 ``AtariVecEnv``). Registering imports only ``ale_py.roms``
(to list the games): no ROM is loaded and neither SB3 nor the C++ vector env is imported until an env is made.

:func:`is_plugin_id` is the one test of "is this one of the plugin's ids" (the zoo integration asks it to pick the
fast vector env, to treat the id as Atari for evaluation and to refuse the zoo's generic ``atari`` config section,
whose ``AtariWrapper`` and ``frame_stack`` this env already applies).
"""

from __future__ import annotations

import gymnasium as gym

from ppog_sb3.envs.games import list_games, rom_id_to_name

NAMESPACE = "ppog"
VERSION = "v5"
ENTRY_POINT = "ppog_sb3.envs.atari_env:PreprocessedAtariEnv"
VECTOR_ENTRY_POINT = "ppog_sb3.envs.atari_vec_env:make_vector_env"
FIRST_GAMES = ("space_invaders",)


def env_id(game: str) -> str:
    """``"space_invaders"`` -> ``"ppog/SpaceInvaders-v5"``."""
    return f"{NAMESPACE}/{rom_id_to_name(game)}-{VERSION}"


def is_plugin_id(env_id: str) -> bool:
    """True for an id registered by :func:`register_envs`: ``ppog/<Game>-v5`` with this package's vector entry point.

    Decision: the entry point, not only the namespace: another env registered as ``ppog/...`` (e.g. a test stand-in)
    is an ordinary gymnasium env, and only this entry point is known to return an SB3 ``VecEnv`` with game-level
    episodes.
    """
    if not env_id.startswith(f"{NAMESPACE}/") or env_id not in gym.registry:
        return False
    return str(gym.spec(env_id).vector_entry_point) == VECTOR_ENTRY_POINT


def register_envs() -> list[str]:
    """Register the ``ppog/<Game>-v5`` ids (idempotent: ids already registered are left alone); return all of them."""
    games = list(FIRST_GAMES) + [g for g in list_games() if g not in FIRST_GAMES]
    ids = []
    for game in games:
        id_ = env_id(game)
        ids.append(id_)
        if id_ in gym.registry:
            continue
        gym.register(
            id=id_,
            entry_point=ENTRY_POINT,
            vector_entry_point=VECTOR_ENTRY_POINT,
            kwargs={"game": game},
        )
    return ids
