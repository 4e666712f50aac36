"""MinAtar (Young & Tian 2019): five 10x10 miniatures of Atari games, the cheap testbed of the PPOG-vs-PPO study.

``import ppog_sb3`` registers ``MinAtar/<Game>-v1`` (minimal action set) and ``-v0`` (all 6 actions) for Asterix,
Breakout, Freeway, Seaquest and SpaceInvaders, with the same ids and options as the ``minatar`` package's own
``minatar.gym.register_envs()`` (sticky actions 0.1 and difficulty ramping, the paper's settings). Observations are
``(10, 10, C)`` boolean boards, channels last: :class:`ppog_sb3.common.extractors.MinAtarCNN` is the network for them.

Decision: gymnasium 1.x no longer loads the ``gymnasium.envs`` entry point that ``minatar`` declares, so without
this a fresh ``pip install minatar`` has no ids at all; registering here keeps ``gym.make("MinAtar/Breakout-v1")``
and ``ppog-zoo train --env MinAtar/Breakout-v1`` working with nothing else imported. The package is an extra
(``pip install "ppog-sb3[study]"``): registering imports nothing from it, and making an env without it raises an
``ImportError`` that says what to install. Ids already registered (by ``minatar`` itself) are left alone.
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym

NAMESPACE = "MinAtar"
#: The package's game modules and the id names it gives them (``space_invaders`` -> ``SpaceInvaders``)
GAMES = {
    "asterix": "Asterix",
    "breakout": "Breakout",
    "freeway": "Freeway",
    "seaquest": "Seaquest",
    "space_invaders": "SpaceInvaders",
}
ENTRY_POINT = "ppog_sb3.envs.minatar:make_minatar_env"
INSTALL_HINT = 'MinAtar environments need the minatar package: pip install "ppog-sb3[study]" (or pip install minatar)'


def minatar_id(game: str, version: int = 1) -> str:
    """``"space_invaders"`` -> ``"MinAtar/SpaceInvaders-v1"`` (``version`` 1: minimal action set; 0: 6 actions)."""
    if game not in GAMES:
        raise ValueError(f"game={game!r} is not a MinAtar game; allowed: {sorted(GAMES)}")
    if version not in (0, 1):
        raise ValueError(f"version={version!r} must be 0 (all 6 actions) or 1 (minimal action set)")
    return f"{NAMESPACE}/{GAMES[game]}-v{version}"


def make_minatar_env(game: str, use_minimal_action_set: bool = True, **kwargs: Any) -> gym.Env:
    """Entry point of the ids: ``minatar.gym.BaseEnv`` (imported here, so registering needs no minatar)."""
    try:
        minatar_gym = importlib.import_module("minatar.gym")
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.split(".")[0] == "minatar":
            raise ImportError(INSTALL_HINT) from error
        raise
    env: gym.Env = minatar_gym.BaseEnv(game, use_minimal_action_set=use_minimal_action_set, **kwargs)
    return env


def register_minatar_envs() -> list[str]:
    """Register ``MinAtar/<Game>-v0`` and ``-v1`` (idempotent); return the ``-v1`` ids."""
    ids = []
    for game in GAMES:
        for version in (0, 1):
            id_ = minatar_id(game, version)
            if version == 1:
                ids.append(id_)
            if id_ in gym.registry:
                continue
            gym.register(id=id_, entry_point=ENTRY_POINT, kwargs={"game": game, "use_minimal_action_set": version == 1})
    return ids
