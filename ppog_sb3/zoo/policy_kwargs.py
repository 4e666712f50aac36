"""Sampled ``policy_kwargs`` update the config's key by key, in ``-optimize``, ``--trial-id`` and ``best-config``.

The zoo's samplers return ``policy_kwargs=dict(net_arch=..., activation_fn=...)`` and its objective does
``kwargs.update(sampled)``, which *replaces* the config's ``policy_kwargs``: a config whose network body lives there
(the MinAtar configs' ``features_extractor_class=MinAtarCNN``) would silently train a plain MLP in every trial, and
``--trial-id`` would do the same through ``hyperparams.update(trial_params)``. Decision: the sampled keys update the
config's ``policy_kwargs``, the config's other keys stay (MinAtarCNN stays, the search picks the heads' ``net_arch``
and ``activation_fn`` on top of it), for every algorithm ``ppog-zoo`` runs. How, narrowly:

- ``-optimize``: :func:`merging_policy_kwargs` replaces the algorithm's entry of the zoo's ``HYPERPARAMS_SAMPLER``
  (the table the zoo's objective reads) with :func:`merging_sampler` for the search loop only
  (``unittest.mock.patch.dict``), restored on return, error or Ctrl-C. For the loop, not per ``objective`` call:
  with ``--n-jobs > 1`` the objectives of several threads overlap, and overlapping ``patch.dict`` blocks restore
  each other's snapshots (one of them would leave the wrapper in the table for good).
- ``--trial-id`` and ``best-config``: the config's ``policy_kwargs`` is still the zoo's source string there (the zoo
  evaluates it later), so the merge is written as source too (:func:`merge_policy_kwargs_source`), and the run's
  ``config.yml`` shows what was trained.

The upstream hook that would remove this: the zoo's objective merging ``policy_kwargs`` itself (as its off-policy
converter already does with ``hyperparams.get("policy_kwargs", {})``).
"""

from __future__ import annotations

import ast
import keyword
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from torch import nn

from ppog_sb3.zoo.errors import ZooError

Sampler = Callable[..., dict[str, Any]]


def merging_sampler(sampler: Sampler, config_policy_kwargs: dict[str, Any]) -> Sampler:
    """``sampler`` whose ``policy_kwargs`` update ``config_policy_kwargs`` instead of replacing them."""

    def sample(*args: Any, **kwargs: Any) -> dict[str, Any]:
        sampled = sampler(*args, **kwargs)
        if isinstance(sampled.get("policy_kwargs"), dict):
            sampled = {**sampled, "policy_kwargs": {**config_policy_kwargs, **sampled["policy_kwargs"]}}
        return sampled

    sample.__wrapped__ = sampler  # type: ignore[attr-defined]
    return sample


@contextmanager
def merging_policy_kwargs(algo: str, config_policy_kwargs: dict[str, Any] | None) -> Iterator[None]:
    """Inside the block the zoo's objective samples with :func:`merging_sampler` for ``algo``; the table is as
    before afterwards (no-op without config ``policy_kwargs`` or without a sampler for ``algo``)."""
    import rl_zoo3.exp_manager

    table = rl_zoo3.exp_manager.HYPERPARAMS_SAMPLER
    if not config_policy_kwargs or algo not in table:
        yield
        return
    with mock.patch.dict(table, {algo: merging_sampler(table[algo], dict(config_policy_kwargs))}):
        yield


def python_source(value: Any) -> str:
    """``value`` as Python source that the zoo's ``eval`` of a ``policy_kwargs`` string turns back into it.

    Classes are written as ``nn.Name`` (torch.nn, which the zoo's module imports as ``nn``) or
    ``importlib.import_module('module').Name`` (as the MinAtar configs write ``MinAtarCNN``).
    """
    if isinstance(value, type):
        name = value.__name__
        if getattr(nn, name, None) is value:
            return f"nn.{name}"
        if "<" in value.__qualname__:
            raise ZooError(f"cannot write the class {value!r} in a config: it is not importable by name")
        return f"importlib.import_module({value.__module__!r}).{value.__qualname__}"
    if isinstance(value, dict):
        if all(isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key) for key in value):
            return "dict(" + ", ".join(f"{key}={python_source(item)}" for key, item in value.items()) + ")"
        return "{" + ", ".join(f"{python_source(key)}: {python_source(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(python_source(item) for item in value) + "]"
    if isinstance(value, tuple):
        return "(" + "".join(f"{python_source(item)}, " for item in value).rstrip(" ") + ")"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise ZooError(f"cannot write {value!r} ({type(value).__name__}) as Python source in a policy_kwargs string")


def merge_policy_kwargs_source(base: str | dict[str, Any] | None, sampled: dict[str, Any]) -> str:
    """The zoo's ``policy_kwargs`` string of ``base`` (the config's: a source string, a YAML mapping or None)
    updated key by key with ``sampled``.

    A ``dict(key=value, ...)`` string keeps its keys' source text and gets the sampled keys replaced or appended;
    any other expression ``E`` becomes ``{**E, 'key': value, ...}``, which Python merges the same way.
    """
    if base is None or isinstance(base, dict):
        return python_source({**(base or {}), **sampled})
    if not isinstance(base, str):
        raise ZooError(f"policy_kwargs={base!r}: expected a Python dict string or a mapping")
    try:
        tree = ast.parse(base.strip(), mode="eval").body
    except SyntaxError as error:
        raise ZooError(f"policy_kwargs={base!r} is not a Python expression: {error.msg}") from error
    source = base.strip()
    if (
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Name)
        and tree.func.id == "dict"
        and not tree.args
        and all(item.arg is not None for item in tree.keywords)
    ):
        items = {str(item.arg): str(ast.get_source_segment(source, item.value)) for item in tree.keywords}
        items.update({key: python_source(value) for key, value in sampled.items()})
        return "dict(" + ", ".join(f"{key}={text}" for key, text in items.items()) + ")"
    if not sampled:
        return source
    return "{**" + source + ", " + ", ".join(f"{key!r}: {python_source(value)}" for key, value in sampled.items()) + "}"
