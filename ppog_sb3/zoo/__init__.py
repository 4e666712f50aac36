"""rl-baselines3-zoo integration of PPOG: ``ppog-zoo`` CLI, Optuna sampler, sturdier hyperparameter search.

- :func:`register` / :func:`unregister`: add ``ppog`` to the zoo's tables in this process (``--algo ppog``) and
  remove it again; the CLI calls :func:`register`.
- :func:`sample_ppog_params` / :func:`convert_ppog_params`: PPOG's Optuna search space for the zoo.
- ``ppog-zoo`` (:mod:`ppog_sb3.zoo.cli`): the zoo's commands with PPOG registered (:mod:`ppog_sb3.zoo.seams`), plus
  ``compare`` and ``study`` (:mod:`ppog_sb3.experiments`).
- :mod:`ppog_sb3.zoo.fast_env`: the ``ppog/<Game>-v5`` ids on the fast C++ vector env inside the zoo (training,
  evaluation, enjoy, record_video), with a game-level monitor CSV; ``train`` also writes ``progress.csv``.

Importing this package does not touch the zoo (no import-time side effects): call :func:`register`.
"""

from ppog_sb3.zoo.hyperparams_opt import convert_ppog_params, sample_ppog_params
from ppog_sb3.zoo.registry import register, unregister

__all__ = ["convert_ppog_params", "register", "sample_ppog_params", "unregister"]
