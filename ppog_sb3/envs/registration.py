"""Gymnasium registration of the ``ppog/<Game>-v5`` ids (one per single-player ALE game, Space Invaders first).

Each id has an ``entry_point`` (``gym.make``: one preprocessed env, ``PreprocessedAtariEnv``) and a
``vector_entry_point`` (``gym.make_vec``: the fast SB3 ``AtariVecEnv``). Registering imports only ``ale_py.roms``
(to list the games): no ROM is loaded and neither SB3 nor the C++ vector env is imported until an env is made.

The entry point string contains ``AtariEnv`` on purpose: rl-zoo's ``ExperimentManager.is_atari`` looks for it, and
then evaluates stochastically and prints the game score from ``info["episode"]``, as for SB3's own Atari ids. The
rl-zoo config must have an entry for the ``ppog/...`` id: its generic ``atari`` entry adds ``AtariWrapper`` and
``frame_stack``, which this env already applies.
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
