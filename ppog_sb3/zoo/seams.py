"""How ``ppog-zoo`` runs the zoo's own commands with its own classes, without changing the zoo.

The zoo's commands (``rl_zoo3.train.train``, ``rl_zoo3.enjoy.enjoy``, the ``rl_zoo3.record_video`` script, the plots)
take no arguments: they parse ``sys.argv`` and look up ``ExperimentManager``, ``create_test_env``, ``StoreDict`` and
``argparse`` as globals of their module. Rebinding those module attributes would change the zoo for every other
caller in the process (and leak between tests). Instead, :func:`with_globals` builds a *new* function object from the
zoo's code with a globals dict of its own: the zoo's module namespace plus the names given. The zoo's code runs
unchanged, nothing is copied, and the zoo's modules stay as they were.

Names handed in (:func:`zoo_globals`):

- ``ExperimentManager`` -> :class:`~ppog_sb3.zoo.exp_manager.PPOGExperimentManager` (``train``, ``enjoy``,
  ``record_video``: fast env, checks, Optuna storage).
- ``create_test_env`` -> :func:`ppog_sb3.zoo.fast_env.create_test_env` (``enjoy``, ``record_video``: the fast env
  for the plugin's ids, the zoo's own function for every other id).
- ``StoreDict`` -> :class:`StoreDict` (``-params``, ``--env-kwargs``: a value that is not a Python expression,
  ``ent_coef:lin_0.01``, stays the plain string instead of a ``NameError`` traceback).
- ``argparse`` -> the standard module's names with ``ArgumentParser`` replaced by :class:`ZooArgumentParser`: it
  parses the command's own arguments (so ``sys.argv`` is neither read nor set) and prints one error line instead
  of the zoo's 40-line usage block.

Upstream hooks that would remove this module: ``train(argv, exp_manager_class=...)``, ``enjoy(argv,
create_test_env=...)``, a ``record_video()`` function like ``enjoy()``, and a ``StoreDict`` that keeps
non-expressions as strings (or a ``parser_class`` argument).
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import inspect
import types
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from rl_zoo3.utils import StoreDict as ZooStoreDict


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


class ZooArgumentParser(OneLineErrorParser):
    """A parser of the zoo's commands that parses ``argv`` (given when it is made) instead of ``sys.argv``.

    :param prog: the zoo's own program name when it gives one (its plots do), else ``default_prog``
    :param argv: the command's arguments
    :param default_prog: the program name in usage and errors (``ppog-zoo train``)
    """

    def __init__(
        self, prog: str | None = None, *args: Any, argv: Sequence[str] = (), default_prog: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(prog if prog is not None else default_prog, *args, **kwargs)
        self._argv = list(argv)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        return super().parse_known_args(self._argv if args is None else args, namespace)


def argparse_for(prog: str, argv: Sequence[str]) -> types.SimpleNamespace:
    """The standard ``argparse`` module's names, with ``ArgumentParser`` making :class:`ZooArgumentParser` s of
    ``argv``."""
    names = {name: getattr(argparse, name) for name in dir(argparse) if not name.startswith("__")}
    names["ArgumentParser"] = functools.partial(ZooArgumentParser, argv=list(argv), default_prog=prog)
    return types.SimpleNamespace(**names)


def zoo_globals(prog: str, argv: Sequence[str], **extra: Any) -> dict[str, Any]:
    """The names ``ppog-zoo`` hands to the zoo's commands (module docstring) to run as ``prog argv``, plus ``extra``."""
    from ppog_sb3.zoo.exp_manager import PPOGExperimentManager
    from ppog_sb3.zoo.fast_env import create_test_env

    return {
        "ExperimentManager": PPOGExperimentManager,
        "create_test_env": create_test_env,
        "StoreDict": StoreDict,
        "argparse": argparse_for(prog, argv),
        **extra,
    }


def with_globals(function: Callable[..., Any], names: dict[str, Any]) -> Callable[..., Any]:
    """``function``'s code run with a copy of its module's globals, in which ``names`` replace the globals of the same
    name (names its module does not have are not added); the module itself is not changed."""
    own = {name: value for name, value in names.items() if name in function.__globals__}
    namespace = {**function.__globals__, **own}
    clone = types.FunctionType(function.__code__, namespace, function.__name__, function.__defaults__, function.__closure__)
    clone.__kwdefaults__ = function.__kwdefaults__
    return clone


def run_script(module_name: str, names: dict[str, Any]) -> None:
    """Run the ``if __name__ == "__main__":`` block of a zoo script (e.g. ``rl_zoo3.record_video``, which has no
    function to call) in the module's namespace plus ``names``."""
    module = importlib.import_module(module_name)
    source = inspect.getsource(module)
    tree = ast.parse(source, filename=str(module.__file__))
    blocks = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'"]
    if len(blocks) != 1:
        raise RuntimeError(f"{module_name} has {len(blocks)} `if __name__ == '__main__':` blocks; expected one")
    code = compile(ast.Module(body=blocks[0].body, type_ignores=[]), str(module.__file__), "exec")
    own = {name: value for name, value in names.items() if name in vars(module)}
    exec(code, {**vars(module), **own, "__name__": "__main__"})
