"""Helpers of the rl-zoo integration tests: run the real ``ppog-zoo`` CLI (``python -m ppog_sb3.zoo``) in subprocesses,
in an environment with the project's core dependencies only (no [dev] extras: tests/core_only.py)."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core_only import core_python

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "zoo_configs" / "ppog.yml"
HERE = Path(__file__).resolve().parent

#: Small CartPole runs: 2 envs, tiny network, one thread (the machine has 2 cores, tests may run 2 processes).
CARTPOLE_SMALL = ["-params", "n_envs:2", "n_steps:64", "batch_size:64", "n_epochs:2", "policy_kwargs:dict(net_arch=[32])"]

#: Search-space parameters pinned in the Optuna tests so that every trial is short (raw names of the sampler).
FIXED_SMALL = ["--fixed-params", "n_steps_pow:6", "batch_size_pow:6", "n_epochs:1", "net_arch:tiny"]


def zoo_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "MPLBACKEND": "Agg",
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")])),
        }
    )
    env.pop("PPOG_ZOO_DEBUG", None)
    env.update(extra or {})
    return env


def zoo_command(*args: str) -> list[str]:
    """``ppog-zoo ARGS`` with a Python that sees only what ``pip install .`` installs (tests/core_only.py)."""
    return [core_python(), "-m", "ppog_sb3.zoo", *args]


@dataclass
class Result:
    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"$ ppog-zoo {' '.join(self.args)}\nexit code {self.returncode}\n"
            f"--- stdout (tail) ---\n{self.stdout[-3000:]}\n--- stderr (tail) ---\n{self.stderr[-3000:]}"
        )


def run_zoo(*args: str, cwd: Path, timeout: float = 300, check: bool = True, env: dict[str, str] | None = None) -> Result:
    """Run ``python -m ppog_sb3.zoo ARGS`` (the ``ppog-zoo`` console script's code) and return its output."""
    proc = subprocess.run(zoo_command(*args), cwd=cwd, env=zoo_env(env), capture_output=True, text=True, timeout=timeout)
    result = Result(args, proc.returncode, proc.stdout, proc.stderr)
    if check:
        assert result.returncode == 0, result.describe()
    return result


def start_zoo(*args: str, cwd: Path, env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen:
    """Start ``ppog-zoo ARGS`` in the background, stdout+stderr to ``log`` (a file: no pipe can fill up)."""
    out = open(log, "w") if log is not None else subprocess.DEVNULL  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(zoo_command(*args), cwd=cwd, env=zoo_env(env), stdout=out, stderr=subprocess.STDOUT)


def run_parallel(commands: list[tuple[str, ...]], cwd: Path, timeout: float = 300) -> list[Result]:
    """Run several ``ppog-zoo`` commands at once (they spend most of their time importing) and collect them."""
    procs = [
        subprocess.Popen(zoo_command(*args), cwd=cwd, env=zoo_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for args in commands
    ]
    results = []
    for args, proc in zip(commands, procs):
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        results.append(Result(args, proc.returncode, out, err))
    return results


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
