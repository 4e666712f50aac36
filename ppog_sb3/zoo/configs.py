"""The configs that ship with the package: the top-level ``zoo_configs/`` folder, installed as ``ppog_sb3.zoo_configs``.

The zoo finds the config of its own algorithms in its package (``rl_zoo3/hyperparams/<algo>.yml``) when no
``-conf`` is given; :func:`default_config` does the same for the algorithm this package adds, so that
``ppog-zoo train --algo ppog --env CartPole-v1`` works after ``pip install`` from anywhere, not only in the checkout.
``-conf FILE`` still overrides it. The zoo's algorithms (``--algo ppo`` ...) keep the zoo's own default files:
``zoo_configs/ppo.yml`` (the PPO side of the comparisons) is used only when named with ``-conf``.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from ppog_sb3.zoo.registry import ALGO_NAME

#: The package that holds the shipped configs (pyproject.toml maps it to the top-level ``zoo_configs/`` folder).
CONFIG_PACKAGE = "ppog_sb3.zoo_configs"


def packaged_config(name: str) -> Path:
    """The path of a config shipped with the package, e.g. ``packaged_config("ppog.yml")``."""
    path = Path(str(importlib.resources.files(CONFIG_PACKAGE) / name))
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not shipped in {CONFIG_PACKAGE} ({path.parent})")
    return path


def default_config(algo: str) -> str | None:
    """The config ``ppog-zoo`` uses for ``--algo ALGO`` without ``-conf``: the package's ``ppog.yml`` for ``ppog``,
    None for the zoo's own algorithms (the zoo then takes its file, as without this package)."""
    return str(packaged_config(f"{ALGO_NAME}.yml")) if algo == ALGO_NAME else None
