"""Register PPOG in rl-baselines3-zoo's tables, in process, without a fork.

rl-zoo 2.9 has no plugin mechanism for algorithms: it looks them up in module-level dicts, and its scripts
bind those dicts (and ``ExperimentManager``) by name at import time. :func:`register` therefore edits the
objects the zoo's scripts will use:

- ``rl_zoo3.utils.ALGOS`` (the one dict that ``rl_zoo3.ALGOS`` and ``rl_zoo3.{exp_manager,train,enjoy,
  record_video,push_to_hub}`` import by name) gets ``"ppog": PPOG``. The dict is edited in place, so every module's
  name for it sees the new entry; ``--algo`` choices are built from it when a command parses its arguments.
- ``rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER`` / ``HYPERPARAMS_CONVERTER`` get PPOG's sampler and converter
  (:mod:`ppog_sb3.zoo.hyperparams_opt`), again in place.
- ``ExperimentManager`` is replaced by :class:`~ppog_sb3.zoo.exp_manager.PPOGExperimentManager` in
  ``rl_zoo3.exp_manager`` and in the modules that imported the name (``train``, ``enjoy``, and ``record_video``
  / ``push_to_hub`` when loaded). ``record_video`` is a script run with ``runpy``: it imports the name from
  ``rl_zoo3.exp_manager`` when it runs, so it gets the subclass too.
- ``create_test_env`` (how ``enjoy`` and ``record_video`` build their env) is replaced by
  :func:`ppog_sb3.zoo.fast_env.create_test_env` in ``rl_zoo3.utils`` (where ``record_video`` imports it from when it
  runs), ``rl_zoo3`` and ``rl_zoo3.enjoy``: the plugin's ``ppog/<Game>-v5`` ids get the fast C++ vector env there
  too; every other id goes to the zoo's own function, unchanged.
- ``rl_zoo3.utils.StoreDict`` (``-params``, ``--env-kwargs``) evaluates each ``KEY:VALUE`` as Python, as before;
  a value that is not a Python expression (``ent_coef:lin_0.01``, ``policy:CnnPolicy``) is now kept as the
  plain string instead of crashing with a ``NameError``/``SyntaxError`` traceback. PPOG parses its schedule
  strings itself, so ``-params ent_coef:lin_0.01 vf_learning_rate:lin_1e-4`` works as in a YAML file.

``register()`` is idempotent and also works for other ``--algo`` values: the zoo's algorithms keep their
entries, and the subclass only adds checks for ``ppog`` plus the Optuna storage handling for every algorithm.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

ALGO_NAME = "ppog"

_registered = False


def parse_cli_value(text: str) -> Any:
    """A ``-params`` value: the zoo evaluates it as Python; a non-expression stays the plain string."""
    try:
        return eval(text)  # the zoo's own behaviour: numbers, dict(...), quoted strings, True/None, ...
    except (NameError, SyntaxError):
        return text


def _store_dict_call(
    self: argparse.Action, parser: argparse.ArgumentParser, namespace: Any, values: Any, option_string: Any = None
) -> None:
    arg_dict = {}
    for argument in values:
        key, sep, value = argument.partition(":")
        if not sep or not key:
            parser.error(f"argument {option_string}: expected KEY:VALUE, got {argument!r}")
        try:
            arg_dict[key] = parse_cli_value(value)
        except Exception as error:
            parser.error(f"argument {option_string}: cannot evaluate {argument!r}: {type(error).__name__}: {error}")
    setattr(namespace, self.dest, arg_dict)


def register() -> None:
    """Register ``ppog`` in the zoo (algorithm table, Optuna sampler and converter, ExperimentManager)."""
    global _registered
    if _registered:
        return

    import rl_zoo3  # noqa: F401  (applies the zoo's gym patches first, as its scripts do)
    import rl_zoo3.enjoy
    import rl_zoo3.exp_manager
    import rl_zoo3.hyperparams_opt
    import rl_zoo3.train
    import rl_zoo3.utils

    from ppog_sb3.ppog import PPOG
    from ppog_sb3.zoo.exp_manager import PPOGExperimentManager
    from ppog_sb3.zoo.hyperparams_opt import convert_ppog_params, sample_ppog_params

    # The plugin's fast-path Atari ids (ppog/<Game>-v5). Until ppog_sb3.envs exists, the other workflows go on;
    # an error inside an existing envs package is not hidden (``import ppog_sb3`` imports it anyway).
    try:
        envs = importlib.import_module("ppog_sb3.envs")
    except ModuleNotFoundError as error:
        if error.name not in ("ppog_sb3.envs",):
            raise
    else:
        register_envs = getattr(envs, "register_envs", None)
        if callable(register_envs):
            register_envs()  # idempotent (``import ppog_sb3`` may already have called it)

    zoo_modules = [
        sys.modules[name]
        for name in (
            "rl_zoo3",
            "rl_zoo3.utils",
            "rl_zoo3.exp_manager",
            "rl_zoo3.train",
            "rl_zoo3.enjoy",
            "rl_zoo3.record_video",
            "rl_zoo3.push_to_hub",
            "rl_zoo3.benchmark",
        )
        if name in sys.modules
    ]
    # One dict in 2.9, but set the entry in every module's ALGOS in case a version copies it
    for module in zoo_modules:
        algos = getattr(module, "ALGOS", None)
        if isinstance(algos, dict):
            algos[ALGO_NAME] = PPOG

    rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER[ALGO_NAME] = sample_ppog_params
    rl_zoo3.hyperparams_opt.HYPERPARAMS_CONVERTER[ALGO_NAME] = convert_ppog_params
    for module in zoo_modules:
        for table, entry in (("HYPERPARAMS_SAMPLER", sample_ppog_params), ("HYPERPARAMS_CONVERTER", convert_ppog_params)):
            existing = getattr(module, table, None)
            if isinstance(existing, dict):
                existing[ALGO_NAME] = entry

    original = rl_zoo3.exp_manager.ExperimentManager
    for module in zoo_modules:
        if getattr(module, "ExperimentManager", None) is original:
            module.ExperimentManager = PPOGExperimentManager  # type: ignore[attr-defined]

    import ppog_sb3.zoo.fast_env as fast_env

    if fast_env.zoo_create_test_env is None:
        fast_env.zoo_create_test_env = rl_zoo3.utils.create_test_env
    original_create_test_env = fast_env.zoo_create_test_env
    for module in zoo_modules:
        if getattr(module, "create_test_env", None) is original_create_test_env:
            module.create_test_env = fast_env.create_test_env  # type: ignore[attr-defined]

    rl_zoo3.utils.StoreDict.__call__ = _store_dict_call  # type: ignore[method-assign]
    _registered = True
