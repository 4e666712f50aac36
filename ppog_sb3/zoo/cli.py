"""``ppog-zoo``: rl-baselines3-zoo's command line with PPOG registered (``--algo ppog``), plus ``compare``,
``study``, ``best-config`` and ``tune-report``. Each zoo command runs through the zoo's own entry point with every
flag's meaning kept (:mod:`ppog_sb3.zoo.seams`); what ppog-zoo adds to each: ``docs/zoo.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PROG = "ppog-zoo"
DEBUG_ENV = "PPOG_ZOO_DEBUG"


@dataclass(frozen=True)
class Command:
    """A ``ppog-zoo`` subcommand: ``run(argv)`` gets the arguments after the command name and returns an exit code
    or None."""

    name: str
    run: Callable[[list[str]], int | None]
    help: str


COMMANDS: dict[str, Command] = {}

#: Module of ``ppog-zoo compare`` (imported only when the command runs).
COMPARE_MODULE = "ppog_sb3.experiments.compare"


def register_command(name: str, run: Callable[[list[str]], int | None], help: str, *, replace: bool = False) -> None:
    """Add a subcommand to ``ppog-zoo`` (the hook for ``compare`` and later commands)."""
    if name in COMMANDS and not replace:
        raise ValueError(f"ppog-zoo command {name!r} already exists")
    COMMANDS[name] = Command(name, run, help)


# ---------------------------------------------------------------------- the zoo's commands
def _register_zoo() -> None:
    from ppog_sb3.zoo.registry import register

    register()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{PROG}: error: environment variable {name}={value!r} must be an integer") from None


def _train_extras_parser() -> argparse.ArgumentParser:
    from ppog_sb3.zoo.optuna_study import DEFAULT_GRACE_PERIOD, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_MAX_RETRY
    from ppog_sb3.zoo.seams import OneLineErrorParser

    parser = OneLineErrorParser(prog=f"{PROG} train", add_help=False, allow_abbrev=False)
    group = parser.add_argument_group("ppog-zoo additions (hyperparameter search, -optimize)")
    group.add_argument(
        "--heartbeat-interval",
        type=int,
        default=_env_int("PPOG_ZOO_HEARTBEAT_INTERVAL", DEFAULT_HEARTBEAT_INTERVAL),
        help="seconds between heartbeats of a running trial in an RDB storage (SQLite/PostgreSQL); 0: no heartbeat "
        f"(default: $PPOG_ZOO_HEARTBEAT_INTERVAL or {DEFAULT_HEARTBEAT_INTERVAL})",
    )
    group.add_argument(
        "--grace-period",
        type=int,
        default=_env_int("PPOG_ZOO_GRACE_PERIOD", DEFAULT_GRACE_PERIOD),
        help="seconds without heartbeat after which a RUNNING trial (its worker died) is marked FAIL "
        f"(default: $PPOG_ZOO_GRACE_PERIOD or {DEFAULT_GRACE_PERIOD})",
    )
    group.add_argument(
        "--max-retry",
        type=int,
        default=_env_int("PPOG_ZOO_MAX_RETRY", DEFAULT_MAX_RETRY),
        help="times a trial marked FAIL for want of heartbeats (its worker was killed) is queued again with the same "
        f"parameters, run by the next trial of any worker; 0: never (default: $PPOG_ZOO_MAX_RETRY or {DEFAULT_MAX_RETRY})",
    )
    group.add_argument(
        "--fixed-params",
        nargs="+",
        default=[],
        metavar="KEY:VALUE",
        help="pin raw search-space parameters for the whole search, e.g. n_steps_pow:6 net_arch:tiny policy_loss:ppog",
    )
    runs = parser.add_argument_group("ppog-zoo additions (resumable runs: ppog_sb3.zoo.restart_resume)")
    runs.add_argument(
        "--checkpoint-freq",
        type=int,
        default=0,
        metavar="STEPS",
        help="write <run folder>/checkpoint/ at the first rollout boundary after every STEPS agent steps (all envs "
        "together), for --resume; 0: none (default: 0)",
    )
    runs.add_argument(
        "--resume",
        action="store_true",
        help="continue the latest run folder of this --algo/--env/-f from its checkpoint to -n steps, writing on into "
        "its files; pass the run's other arguments again",
    )
    return parser


def _run_train(argv: list[str]) -> int | None:
    import functools

    from ppog_sb3.zoo.exp_manager import OptimizationSettings, PPOGExperimentManager
    from ppog_sb3.zoo.seams import parse_cli_value, train_names, zoo_command

    extras_parser = _train_extras_parser()
    if "-h" in argv or "--help" in argv:
        extras_parser.print_help()
        print()
    extras, rest = extras_parser.parse_known_args(argv)
    if extras.heartbeat_interval < 0:
        extras_parser.error(f"--heartbeat-interval={extras.heartbeat_interval} must be >= 0")
    if extras.heartbeat_interval > 0 and extras.grace_period <= extras.heartbeat_interval:
        extras_parser.error(
            f"--grace-period={extras.grace_period} must be larger than --heartbeat-interval={extras.heartbeat_interval}"
        )
    if extras.max_retry < 0:
        extras_parser.error(f"--max-retry={extras.max_retry} must be >= 0 (0: a stale trial is not queued again)")
    fixed = {}
    for item in extras.fixed_params:
        key, sep, value = item.partition(":")
        if not sep or not key:
            extras_parser.error(f"argument --fixed-params: expected KEY:VALUE, got {item!r}")
        fixed[key] = parse_cli_value(value)
    settings = OptimizationSettings(
        heartbeat_interval=extras.heartbeat_interval,
        grace_period=extras.grace_period,
        fixed_params=fixed,
        max_retry=extras.max_retry,
    )
    _register_zoo()
    import rl_zoo3.train

    # The zoo's train() builds `ExperimentManager(args, ...)`: hand it the subclass with this run's settings
    manager = functools.partial(
        PPOGExperimentManager, settings=settings, checkpoint_freq=extras.checkpoint_freq, resume=extras.resume
    )
    with zoo_command(f"{PROG} train", rest, train_names(manager)):
        rl_zoo3.train.train()
    return 0


def _run_enjoy(argv: list[str]) -> int | None:
    _register_zoo()
    import rl_zoo3.enjoy

    from ppog_sb3.zoo.seams import enjoy_names, zoo_command

    with zoo_command(f"{PROG} enjoy", argv, enjoy_names()):
        rl_zoo3.enjoy.enjoy()
    return 0


def _run_record_video(argv: list[str]) -> int | None:
    _register_zoo()
    from ppog_sb3.zoo.seams import record_video_names, run_script, zoo_command

    with zoo_command(f"{PROG} record_video", argv, record_video_names()):
        run_script("rl_zoo3.record_video")  # a script in the zoo, with no function to call: run as `python -m` does
    return 0


def env_folder_names(argv: list[str]) -> list[str]:
    """``-e/--env`` values of the zoo's plot commands as the zoo's folder names (``ppog/X-v5`` -> ``ppog-X-v5``).

    The zoo names run folders with ``EnvironmentName`` (``/`` replaced by ``-``) but its plots match the raw
    ``--env`` strings against folder names, so a namespaced id would find no run.
    """
    result: list[str] = []
    in_env = False
    for arg in argv:
        if arg in ("-e", "--env"):
            in_env = True
            result.append(arg)
            continue
        if arg.startswith("--env="):
            result.append("--env=" + arg[len("--env=") :].replace("/", "-"))
            in_env = False
            continue
        if arg.startswith("-"):
            in_env = False
        result.append(arg.replace("/", "-") if in_env else arg)
    return result


def _plot_command(function_name: str) -> Callable[[list[str]], int | None]:
    def run(argv: list[str]) -> int | None:
        import importlib

        from ppog_sb3.zoo.seams import OneLineErrorParser, SavingPyplot, plot_names, zoo_command

        prog = f"{PROG} {function_name}"
        parser = OneLineErrorParser(prog=prog, add_help=False, allow_abbrev=False)
        parser.add_argument("-o", "--output", default=None, help="save the figure to this file instead of showing it")
        pyplot = None
        if function_name in ("plot_train", "all_plots"):
            argv = env_folder_names(argv)
        if function_name == "plot_train":
            if "-h" in argv or "--help" in argv:
                print("ppog-zoo addition: -o/--output FILE  save the figure (png, pdf, svg) instead of plt.show()\n")
            extras, argv = parser.parse_known_args(argv)
            if extras.output is not None:
                os.makedirs(os.path.dirname(os.path.abspath(extras.output)), exist_ok=True)
                pyplot = SavingPyplot(extras.output)  # the zoo's final plt.show() saves the figure instead
        _register_zoo()
        module = importlib.import_module(f"rl_zoo3.plots.{function_name}")
        from matplotlib import pyplot as plt

        figures = set(plt.get_fignums())
        try:
            with warnings.catch_warnings(), zoo_command(prog, argv, plot_names(function_name, pyplot)):
                warnings.filterwarnings("ignore", message=".*non-interactive.*cannot be shown")
                getattr(module, function_name)()
        finally:
            for number in set(plt.get_fignums()) - figures:  # the zoo's figures (shown or saved), not a caller's
                plt.close(number)
        if pyplot is not None and pyplot.saved:
            print(f"Saved {pyplot.output}")
        return 0

    return run


def _run_compare(argv: list[str]) -> int | None:
    """``ppog-zoo compare ARGS``: ``main(ARGS)`` of the compare module, imported when the command runs."""
    import importlib

    return importlib.import_module(COMPARE_MODULE).main(argv)


register_command("train", _run_train, "train an agent, or search hyperparameters with -optimize")
register_command("enjoy", _run_enjoy, "run a trained agent")
register_command("record_video", _run_record_video, "record a video of a trained agent")
register_command("plot_train", _plot_command("plot_train"), "plot the training reward of runs in a log folder")
register_command("plot_from_file", _plot_command("plot_from_file"), "plots from a file made by all_plots")
register_command("all_plots", _plot_command("all_plots"), "evaluation plots of several algorithms/envs")
register_command("compare", _run_compare, "PPOG-vs-PPO comparison plots from zoo log folders")


def _run_study(argv: list[str]) -> int | None:
    from ppog_sb3.experiments.study.command import main as study_main

    return study_main(argv)


register_command("study", _run_study, "many-seed studies: run (resumable), status, random scores, report (rliable)")


def _run_best_config(argv: list[str]) -> int | None:
    """``ppog-zoo best-config ARGS``: :mod:`ppog_sb3.zoo.best_config` (ppog registered: its converter)."""
    _register_zoo()
    from ppog_sb3.zoo.best_config import main as best_config_main

    return best_config_main(argv)


register_command("best-config", _run_best_config, "write an Optuna search's best trial as a zoo config section")


def _run_tune_report(argv: list[str]) -> int | None:
    """``ppog-zoo tune-report PATHS -o OUT``: :mod:`ppog_sb3.zoo.tuning_report`."""
    from ppog_sb3.zoo.tuning_report import main as tune_report_main

    return tune_report_main(argv)


register_command("tune-report", _run_tune_report, "what Optuna searches cost and found: trials, machine hours, best")


# ---------------------------------------------------------------------- dispatcher
def _usage() -> str:
    lines = [
        f"usage: {PROG} COMMAND [ARGS...]   (ARGS: the zoo's, e.g. --algo ppog --env CartPole-v1; COMMAND -h lists them)",
        "",
        "rl-baselines3-zoo commands with PPOG registered as --algo ppog:",
    ]
    width = max(len(name) for name in COMMANDS)
    lines += [f"  {name:<{width}}  {command.help}" for name, command in COMMANDS.items()]
    lines += ["", f"Set {DEBUG_ENV}=1 to see tracebacks instead of one-line errors."]
    return "\n".join(lines)


def describe_error(error: BaseException) -> str:
    """One line for a failed command: the message of a user error, the exception type and message otherwise."""
    from ppog_sb3.zoo.errors import ZooError

    message = " ".join(str(error).split())
    if isinstance(error, ZooError):
        return message
    if isinstance(error, TypeError) and "unexpected keyword argument" in message:
        return f"{message} (a hyperparameter in the config or -params that this algorithm does not accept)"
    if not message:
        frames = traceback.extract_tb(error.__traceback__)
        where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
        return f"{type(error).__name__}{where}"
    return f"{type(error).__name__}: {message}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ppog-zoo`` (and ``python -m ppog_sb3.zoo``); returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if args else 2
    if args[0] == "--version":
        from importlib.metadata import version  # not ppog_sb3.__version__: zoo/ imports nothing above it

        print(f"{PROG} (ppog-sb3) {version('ppog-sb3')}")
        return 0

    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"{PROG}: error: unknown command '{name}': choose from {', '.join(COMMANDS)}", file=sys.stderr)
        return 2

    prog = f"{PROG} {name}"
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    from ppog_sb3.zoo.registry import is_registered, unregister

    registered_before = is_registered()  # an in-process caller finds the zoo's tables as it left them
    try:
        code = COMMANDS[name].run(rest)
        sys.stdout.flush()  # here, not at exit: a reader that went away is handled below
        return 0 if code is None else int(code)
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`ppog-zoo study status ... | head`): stop quietly, as other command-line tools do
        # (the stdout redirect keeps Python's own flush at exit from failing again; Python docs, "Note on SIGPIPE")
        with contextlib.suppress(OSError, ValueError):  # not a real file (a caller's capture): nothing to redirect
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE
    except Exception as error:
        if debug:
            raise
        sys.stdout.flush()
        print(f"{prog}: error: {describe_error(error)} (set {DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
        return 1
    finally:
        if not registered_before:
            unregister()


if __name__ == "__main__":
    sys.exit(main())
