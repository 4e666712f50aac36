"""Register PPOG in rl-baselines3-zoo's tables, by the zoo's own recipe for external algorithms.

rl-zoo 2.9 has no plugin API. Its guide for external algorithms (``docs/guide/sbx.md``) fills the algorithm table
that ``rl_zoo3.ALGOS``, ``rl_zoo3.train.ALGOS`` and ``rl_zoo3.exp_manager.ALGOS`` name, and, for ``-optimize``, the
sampler and converter tables of ``rl_zoo3.hyperparams_opt``. :func:`register` does exactly that, adding two keys,
``"ppog"`` and ``"ppog_lstm"`` (:class:`~ppog_sb3.RecurrentPPOG`, named after the zoo's ``ppo_lstm``, sb3-contrib's
``RecurrentPPO``), to each of these dicts (in 2.9 the three ``ALGOS`` names are one dict; each is filled in case a
version copies it). Nothing else of the zoo is changed here: the other algorithms, ``ExperimentManager``, ``create_test_env``
and argument parsing stay the zoo's. ``ppog-zoo``'s own behaviour (fast env, checks, Optuna storage) comes from
:class:`~ppog_sb3.zoo.exp_manager.PPOGExperimentManager`, handed to each zoo command for the length of the call by
:mod:`ppog_sb3.zoo.seams`.

:func:`unregister` removes the entries again (restoring whatever the tables held before), so a test that registers
leaves the zoo as it found it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ALGO_NAME = "ppog"
#: RecurrentPPOG's name in the zoo, after the zoo's ``ppo_lstm`` (RecurrentPPO)
LSTM_ALGO_NAME = "ppog_lstm"

#: Entries :func:`register` replaced, per table and name (absent: the key was not there), for :func:`unregister`.
_previous: dict[tuple[int, str], tuple[dict[str, Any], Any]] | None = None
_MISSING = object()


def zoo_tables() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The zoo's tables and the package's entries in each: ``[(table, {name: entry}), ...]`` (each dict once)."""
    import rl_zoo3  # noqa: F401  (applies the zoo's gym patches first, as its scripts do)
    import rl_zoo3.exp_manager
    import rl_zoo3.hyperparams_opt
    import rl_zoo3.train

    from ppog_sb3.ppog import PPOG
    from ppog_sb3.ppog_recurrent import RecurrentPPOG
    from ppog_sb3.zoo.hyperparams_opt import convert_ppog_params, sample_ppog_lstm_params, sample_ppog_params

    algos = {ALGO_NAME: PPOG, LSTM_ALGO_NAME: RecurrentPPOG}
    samplers = {ALGO_NAME: sample_ppog_params, LSTM_ALGO_NAME: sample_ppog_lstm_params}
    converters = {ALGO_NAME: convert_ppog_params, LSTM_ALGO_NAME: convert_ppog_params}
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (rl_zoo3.ALGOS, algos),
        (rl_zoo3.train.ALGOS, algos),
        (rl_zoo3.exp_manager.ALGOS, algos),
        (rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER, samplers),
        (rl_zoo3.hyperparams_opt.HYPERPARAMS_CONVERTER, converters),
    ]
    unique: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    for table, entry in pairs:
        unique.setdefault(id(table), (table, entry))
    return list(unique.values())


def register() -> None:
    """Add ``ppog`` and ``ppog_lstm`` to the zoo's algorithm, sampler and converter tables (idempotent); also registers
    the envs."""
    global _previous
    from ppog_sb3.envs import register_envs

    register_envs()  # idempotent (``import ppog_sb3`` already called it)
    if _previous is not None:
        return
    previous = {}
    for table, entries in zoo_tables():
        for name, entry in entries.items():
            previous[id(table), name] = (table, table.get(name, _MISSING))
            table[name] = entry
    _previous = previous


def unregister() -> None:
    """Undo :func:`register`: each table gets back what it held for ``ppog`` and ``ppog_lstm`` before (no-op when not
    registered)."""
    global _previous
    if _previous is None:
        return
    for (_, name), (table, old) in _previous.items():
        if old is _MISSING:
            table.pop(name, None)
        else:
            table[name] = old
    _previous = None


def is_registered() -> bool:
    """Whether :func:`register` is in effect."""
    return _previous is not None


@contextmanager
def registered() -> Iterator[None]:
    """``ppog`` in the zoo's tables inside the ``with`` block; afterwards the tables are as before (it stays
    registered if it already was)."""
    already = is_registered()
    register()
    try:
        yield
    finally:
        if not already:
            unregister()
