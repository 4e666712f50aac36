"""How ``ppog-zoo`` runs the zoo's own commands with its own classes: ``sys.argv`` and the zoo's names, for one call.

The zoo's commands take no arguments: ``rl_zoo3.train.train()``, ``rl_zoo3.enjoy.enjoy()`` and the plots parse
``sys.argv`` (``rl_zoo3.cli`` hands them their arguments there too), ``rl_zoo3.record_video`` is a script
(``python -m rl_zoo3.record_video``), and each looks up ``ExperimentManager``, ``create_test_env``, ``StoreDict`` and
``argparse`` as globals of its module. :func:`zoo_command` runs one as the zoo's CLI does: ``sys.argv`` set for the
call, and ppog-zoo's names set on the zoo's modules for the call (``unittest.mock.patch.object``); both are restored
when the command returns, raises or exits. A name the installed zoo does not have is an error before anything runs,
never a silent fallback to the zoo's own class.

Names handed in (:func:`train_names`, :func:`enjoy_names`, :func:`record_video_names`, :func:`plot_names`):

- ``ExperimentManager`` -> :class:`~ppog_sb3.zoo.exp_manager.PPOGExperimentManager` (fast env, checks, Optuna storage).
- ``create_test_env`` -> :func:`ppog_sb3.zoo.fast_env.create_test_env` (``enjoy``, ``record_video``: the fast env for
  the plugin's ids, the zoo's own function for every other id).
- ``get_model_path`` -> :func:`ppog_sb3.zoo.model_path.get_model_path` (``enjoy``, ``record_video``:
  ``--load-checkpoint`` / ``--load-last-checkpoint`` also find a ``--checkpoint-freq`` checkpoint).
- ``StoreDict`` -> :class:`StoreDict` (``-params``, ``--env-kwargs``: a value that is not a Python expression,
  ``ent_coef:lin_0.01``, stays the plain string instead of a ``NameError`` traceback).
- ``argparse`` -> the standard module's names with ``ArgumentParser`` = :class:`OneLineErrorParser` (one error line
  instead of the zoo's 40-line usage block). Not for ``record_video``, whose ``import argparse`` runs inside the
  script: its argument errors print the zoo's usage block.
- ``plt`` of ``plot_train`` -> pyplot with a ``show()`` that saves the figure (``-o FILE``; the backend is not switched).

While a command runs, the whole process sees these names on the zoo's modules: a thread calling the zoo meanwhile
would get ppog-zoo's classes. ``ppog-zoo`` runs one command per process. The upstream hooks that would remove this
module are in ARCHITECTURE.md, "Running the zoo's commands".
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import runpy
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, NoReturn
from unittest import mock

from rl_zoo3.utils import StoreDict as ZooStoreDict

from ppog_sb3.zoo.errors import ZooError

#: ``{zoo module name: {global name: what ppog-zoo hands in}}``
Names = Mapping[str, Mapping[str, Any]]


def parse_cli_value(text: str) -> Any:
    """A ``-params`` value: the zoo evaluates it as Python; a non-expression stays the plain string."""
    try:
        return eval(text)  # the zoo's own behaviour: numbers, dict(...), quoted strings, True/None, ...
    except (NameError, SyntaxError):
        return text


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints the whole usage block before an error; the zoo's is 40 lines long. Print one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


class StoreDict(ZooStoreDict):
    """The zoo's ``KEY:VALUE`` action; values that are not Python expressions are kept as strings (PPOG parses
    ``lin_0.01`` itself), malformed items are one argparse error naming the flag."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: str | None = None
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


#: ``argparse`` as the zoo's commands see it: the standard module's names, ``ArgumentParser`` printing one error line.
ONE_LINE_ARGPARSE = types.SimpleNamespace(
    **{
        **{name: getattr(argparse, name) for name in dir(argparse) if not name.startswith("__")},
        "ArgumentParser": OneLineErrorParser,
    }
)


class SavingPyplot:
    """``matplotlib.pyplot`` for one zoo plot, whose ``show()`` saves the current figure to ``output`` instead."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.saved = False

    def __getattr__(self, name: str) -> Any:
        from matplotlib import pyplot

        return getattr(pyplot, name)

    def show(self, *args: Any, **kwargs: Any) -> None:
        from matplotlib import pyplot

        pyplot.savefig(self.output)
        self.saved = True


@contextmanager
def command_line(prog: str, argv: Sequence[str]) -> Iterator[None]:
    """``sys.argv`` is ``[prog, *argv]`` inside the block (argparse takes the program name from it), as before after."""
    saved = sys.argv
    sys.argv = [prog, *argv]
    try:
        yield
    finally:
        sys.argv = saved


@contextmanager
def handed_in(names: Names) -> Iterator[None]:
    """The zoo's module globals replaced by ``names`` inside the block, restored on exit (also on errors and exits).

    Every name must exist in the installed zoo: a release that renames one is a :class:`ZooError` naming it.
    """
    modules = {module_name: importlib.import_module(module_name) for module_name in names}
    missing = [f"{name}.{attr}" for name, module in modules.items() for attr in names[name] if not hasattr(module, attr)]
    if missing:
        raise ZooError(
            f"rl_zoo3 {importlib.metadata.version('rl_zoo3')} has no {', '.join(missing)}, which ppog-zoo replaces "
            "with its own for the zoo's commands (ppog_sb3.zoo.seams, written for rl_zoo3 2.9): install rl_zoo3 2.9"
        )
    with ExitStack() as stack:
        for module_name, module in modules.items():
            for attr, value in names[module_name].items():
                stack.enter_context(mock.patch.object(module, attr, value))
        yield


@contextmanager
def zoo_command(prog: str, argv: Sequence[str], names: Names) -> Iterator[None]:
    """Inside the block, the zoo's commands run as ``prog argv`` with ``names`` handed in (module docstring)."""
    with command_line(prog, argv), handed_in(names):
        yield


def run_script(module_name: str) -> None:
    """Run a zoo script (``rl_zoo3.record_video``, which has no function to call) as ``python -m`` does, but with
    ``sys.argv`` and ``sys.modules["__main__"]`` left to the caller (``runpy``'s ``alter_sys=False``)."""
    runpy.run_module(module_name, run_name="__main__")


def train_names(manager: Any) -> dict[str, dict[str, Any]]:
    """What ``rl_zoo3.train.train()`` gets: ``manager`` builds its ``ExperimentManager``."""
    return {"rl_zoo3.train": {"ExperimentManager": manager, "StoreDict": StoreDict, "argparse": ONE_LINE_ARGPARSE}}


def enjoy_names() -> dict[str, dict[str, Any]]:
    from ppog_sb3.zoo.exp_manager import PPOGExperimentManager
    from ppog_sb3.zoo.fast_env import create_test_env
    from ppog_sb3.zoo.model_path import get_model_path

    own = {"ExperimentManager": PPOGExperimentManager, "create_test_env": create_test_env, "StoreDict": StoreDict}
    return {"rl_zoo3.enjoy": {**own, "get_model_path": get_model_path, "argparse": ONE_LINE_ARGPARSE}}


def record_video_names() -> dict[str, dict[str, Any]]:
    """The script imports its names when it runs: they are handed in where it imports them from."""
    from ppog_sb3.zoo.exp_manager import PPOGExperimentManager
    from ppog_sb3.zoo.fast_env import create_test_env
    from ppog_sb3.zoo.model_path import get_model_path

    return {
        "rl_zoo3.exp_manager": {"ExperimentManager": PPOGExperimentManager},
        "rl_zoo3.utils": {"create_test_env": create_test_env, "StoreDict": StoreDict, "get_model_path": get_model_path},
    }


def plot_names(function_name: str, pyplot: SavingPyplot | None = None) -> dict[str, dict[str, Any]]:
    """What the plot ``rl_zoo3.plots.<function_name>`` gets (``pyplot``: its ``plt``, for ``-o``)."""
    own: dict[str, Any] = {"argparse": ONE_LINE_ARGPARSE}
    if pyplot is not None:
        own["plt"] = pyplot
    return {f"rl_zoo3.plots.{function_name}": own}
