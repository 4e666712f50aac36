"""``ppog-zoo study``: a many-seed PPOG-vs-PPO study of zoo runs, resumable, and its statistics.

``ppog-zoo study run STUDY.yml -f results/logs/minatar`` trains, with the real ``ppog-zoo train`` in a subprocess,
every (setting, arm, game, seed) of the study file (``zoo_configs/minatar/study.yml`` is the one of issue 15) whose
folder has no ``study_run.yml`` yet; ``--workers`` runs side by side. ``ppog-zoo study random`` measures the
uniform-random policy's score of each game (the lower end of the normalization); ``ppog-zoo study report`` computes
the statistics (:mod:`ppog_sb3.zoo.study_report`).

Layout: run ``(setting, arm, game, seed)`` is the zoo log folder ``<root>/<setting>/<arm>/seed_<seed>/`` (below it
the zoo's own ``<algo>/<EnvName>_1/`` with monitor CSVs, ``progress.csv`` and the zoo's ``args.yml``/``config.yml``),
so its place is a function of the run alone and two workers never race for the zoo's next run number. A run is done
when ``<root>/<setting>/<arm>/seed_<seed>/<EnvName>.study_run.yml`` exists: written after the training process
exited with 0, it records what ran, where, and how long. A zoo run folder without it (a crash, a kill) is deleted
and the run starts again from scratch: a run is minutes, and resuming a half-written monitor file would be harder to trust.

Decisions: training processes get one torch thread each (``--num-threads 1``) and no evaluation callback
(``--eval-freq -1``): the study's score is the training episodes' return (monitor files), as in the MinAtar paper
and the PPO paper's Atari table; ``--workers`` defaults to the number of cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ppog_sb3.zoo.compare.reading import env_folder_name

PROG = "ppog-zoo study"
MARKER_SUFFIX = ".study_run.yml"


class StudyError(Exception):
    """A user error (bad study file, missing folder): printed as one line, exit code 1."""


@dataclass(frozen=True)
class Arm:
    """One algorithm configuration of a setting: ``ppog-zoo train --algo <algo> -conf <conf> -params <params>``."""

    name: str
    algo: str
    conf: Path
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    setting: str
    arm: Arm
    game: str
    seed: int
    n_timesteps: int

    @property
    def key(self) -> str:
        return f"{self.setting}/{self.arm.name}/{self.game}/seed {self.seed}"


@dataclass(frozen=True)
class Study:
    path: Path
    n_timesteps: int
    seeds: tuple[int, ...]
    games: tuple[str, ...]
    settings: dict[str, dict[str, Arm]]
    order: tuple[str, ...]
    reference_arm: tuple[str, str]

    def runs(
        self,
        settings: Sequence[str] | None = None,
        arms: Sequence[str] | None = None,
        games: Sequence[str] | None = None,
        seeds: Sequence[int] | None = None,
    ) -> list[Run]:
        """The study's runs in its order: setting by setting (``order``), and within one, seed by seed (all games
        and arms of seed 1, then seed 2, ...). The filters keep a subset (``None``: all)."""
        for name, values, allowed in (
            ("--settings", settings, list(self.settings)),
            ("--arms", arms, sorted({a for s in self.settings.values() for a in s})),
        ):
            unknown = [v for v in values or [] if v not in allowed]
            if unknown:
                raise StudyError(f"{name}: {unknown} not in the study; allowed: {allowed}")
        result = []
        for setting in self.order:
            if settings is not None and setting not in settings:
                continue
            for seed in seeds if seeds is not None else self.seeds:
                for game in games if games is not None else self.games:
                    for arm in self.settings[setting].values():
                        if arms is None or arm.name in arms:
                            result.append(Run(setting, arm, game, int(seed), self.n_timesteps))
        return result


def _require(mapping: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in mapping:
        raise StudyError(f"{where}: missing key {key!r}")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise StudyError(f"{where}: {key}={value!r} must be {getattr(kind, '__name__', kind)}")
    return value


def load_study(path: str | Path) -> Study:
    """Read and check a study file (see ``zoo_configs/minatar/study.yml``)."""
    path = Path(path)
    if not path.is_file():
        raise StudyError(f"study file {str(path)!r} does not exist")
    with path.open() as handle:
        data = yaml.safe_load(handle)
    where = str(path)
    if not isinstance(data, dict):
        raise StudyError(f"{where}: expected a mapping at the top level")
    n_timesteps = _require(data, "n_timesteps", int, where)
    seeds = _require(data, "seeds", list, where)
    games = _require(data, "games", list, where)
    if n_timesteps < 1 or not seeds or not games:
        raise StudyError(f"{where}: n_timesteps must be >= 1 and seeds, games non-empty")
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise StudyError(f"{where}: seeds={seeds!r} must be distinct integers >= 0")
    settings: dict[str, dict[str, Arm]] = {}
    for setting, arms in _require(data, "settings", dict, where).items():
        if not isinstance(arms, dict) or not arms:
            raise StudyError(f"{where}: settings.{setting} must map arm names to {{algo, conf, params}}")
        settings[setting] = {}
        for arm_name, spec in arms.items():
            arm_where = f"{where}: settings.{setting}.{arm_name}"
            if not isinstance(spec, dict):
                raise StudyError(f"{arm_where} must be a mapping with algo and conf")
            conf = path.parent / _require(spec, "conf", str, arm_where)
            if not conf.is_file():
                raise StudyError(f"{arm_where}: conf {str(conf)!r} does not exist")
            params = spec.get("params") or {}
            if not isinstance(params, dict):
                raise StudyError(f"{arm_where}: params must be a mapping")
            settings[setting][arm_name] = Arm(arm_name, _require(spec, "algo", str, arm_where), conf, dict(params))
    order = data.get("order", list(settings))
    if sorted(order) != sorted(settings):
        raise StudyError(f"{where}: order={order!r} must list each setting once: {sorted(settings)}")
    reference = data.get("reference_arm") or {}
    if not isinstance(reference, dict) or reference.get("arm") not in settings.get(reference.get("setting"), {}):
        raise StudyError(f"{where}: reference_arm={reference!r} must name a setting and one of its arms")
    return Study(
        path=path,
        n_timesteps=n_timesteps,
        seeds=tuple(seeds),
        games=tuple(games),
        settings=settings,
        order=tuple(order),
        reference_arm=(reference["setting"], reference["arm"]),
    )


# ---------------------------------------------------------------------- where runs live
def log_folder(root: str | Path, run: Run) -> Path:
    """The zoo ``-f`` folder of one run: ``<root>/<setting>/<arm>/seed_<seed>``."""
    return Path(root) / run.setting / run.arm.name / f"seed_{run.seed}"


def zoo_run_dir(root: str | Path, run: Run) -> Path:
    """The zoo's run folder inside it (the zoo numbers from 1, and this folder only ever holds one run per game)."""
    return log_folder(root, run) / run.arm.algo / f"{env_folder_name(run.game)}_1"


def marker_path(root: str | Path, run: Run) -> Path:
    return log_folder(root, run) / f"{env_folder_name(run.game)}{MARKER_SUFFIX}"


def is_done(root: str | Path, run: Run) -> bool:
    return marker_path(root, run).is_file()


def train_command(run: Run, root: str | Path) -> list[str]:
    """The ``ppog-zoo train`` command line of one run (run with this Python, so a venv's ppog-zoo)."""
    command = [
        sys.executable, "-m", "ppog_sb3.zoo", "train",
        "--algo", run.arm.algo,
        "--env", run.game,
        "-conf", str(run.arm.conf),
        "--seed", str(run.seed),
        "-n", str(run.n_timesteps),
        "-f", str(log_folder(root, run)),
        "--num-threads", "1",
        "--eval-freq", "-1",
    ]  # fmt: skip
    if run.arm.params:
        command += ["-params", *(f"{key}:{value}" for key, value in run.arm.params.items())]
    return command


def machine_description() -> str:
    """``"AMD EPYC, 2 cores, torch CPU capability AVX512"``: the machine a run's wall time belongs to."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return f"{model}, {os.cpu_count()} cores, torch CPU capability {torch.backends.cpu.get_cpu_capability()}"


def code_version() -> str:
    """The git commit of the ppog_sb3 checkout that ran (``"unknown"`` for an installed wheel), ``+dirty`` if changed."""
    checkout = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        status = ["git", "-C", str(checkout), "status", "--porcelain", "ppog_sb3"]
        dirty = subprocess.run(status, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


_print_lock = threading.Lock()


def _say(message: str) -> None:
    with _print_lock:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _relative_run(run: Run) -> Run:
    arm = Arm(run.arm.name, run.arm.algo, Path(run.arm.conf.name), run.arm.params)
    return Run(run.setting, arm, run.game, run.seed, run.n_timesteps)


def execute(run: Run, root: str | Path, nice: int = 0) -> bool:
    """Train one run (after removing an unfinished folder of it); write its marker when the process exits with 0.
    The process's output goes to ``<folder>/<EnvName>.train.log`` (not committed: ``progress.csv`` has the numbers)."""
    folder = log_folder(root, run)
    # The folder is shared by the games of one (setting, arm, seed): remove only this game's unfinished run
    for stale in (folder / run.arm.algo).glob(f"{env_folder_name(run.game)}_*"):
        shutil.rmtree(stale)
    folder.mkdir(parents=True, exist_ok=True)
    command = train_command(run, root)
    started = time.time()
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with (folder / f"{env_folder_name(run.game)}.train.log").open("w") as log:
        process = subprocess.run(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
    wall = time.time() - started
    if process.returncode != 0:
        _say(f"FAILED {run.key} (exit {process.returncode}, {wall:.0f} s): see {folder}")
        return False
    if not zoo_run_dir(root, run).is_dir():
        _say(f"FAILED {run.key}: the zoo wrote no {zoo_run_dir(root, run)}")
        return False
    record = {
        "setting": run.setting,
        "arm": run.arm.name,
        "algo": run.arm.algo,
        "game": run.game,
        "seed": run.seed,
        "n_timesteps": run.n_timesteps,
        "conf": run.arm.conf.name,  # beside the study file
        "params": dict(run.arm.params),
        "run_dir": os.path.relpath(zoo_run_dir(root, run), folder),
        # as typed from the study's log root and the study file's folder
        "command": " ".join(["ppog-zoo", *train_command(_relative_run(run), ".")[3:]]),
        "wall_s": round(wall, 1),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_description(),
        "code": code_version(),
        "side_by_side": os.environ.get("PPOG_STUDY_WORKERS", ""),
    }
    with marker_path(root, run).open("w") as handle:
        yaml.safe_dump(record, handle, sort_keys=False)
    _say(f"done {run.key} in {wall:.0f} s")
    return True


def run_study(study: Study, root: str | Path, runs: list[Run], workers: int, nice: int = 0, dry_run: bool = False) -> int:
    """Train the runs that are not done, ``workers`` at a time; return how many failed."""
    todo = [run for run in runs if not is_done(root, run)]
    _say(f"{len(runs) - len(todo)} of {len(runs)} runs done; {len(todo)} to train with {workers} worker(s) in {root}")
    if dry_run:
        for run in todo:
            print(" ".join(train_command(run, root)))
        return 0
    os.environ["PPOG_STUDY_WORKERS"] = str(workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda run: execute(run, root, nice), todo))
    failed = results.count(False)
    _say(f"finished: {len(todo) - failed} trained, {failed} failed")
    return failed


# ---------------------------------------------------------------------- the random policy's scores
def random_scores(games: Sequence[str], episodes: int, seed: int = 0) -> list[dict[str, Any]]:
    """Mean return of a uniform-random policy over ``episodes`` episodes of each game (one env, seeded; the same
    env options as training, sticky actions included)."""
    import gymnasium as gym
    import numpy as np

    import ppog_sb3  # noqa: F401  (registers the MinAtar ids)

    rows = []
    for game in games:
        env = gym.make(game)
        env.action_space.seed(seed)
        returns = []
        observation, _ = env.reset(seed=seed)
        total, steps = 0.0, 0
        while len(returns) < episodes:
            observation, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            steps += 1
            if terminated or truncated:
                returns.append(total)
                total = 0.0
                env.reset()
        env.close()
        values = np.asarray(returns)
        rows.append(
            {
                "game": game,
                "episodes": episodes,
                "seed": seed,
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                "steps": steps,
            }
        )
    return rows


RANDOM_SCORES_FILE = "random_scores.csv"


# ---------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("study", help="study file, e.g. zoo_configs/minatar/study.yml")
        sub.add_argument("-f", "--log-folder", required=True, help="log root of the study, e.g. results/logs/minatar")

    run = commands.add_parser("run", help="train every run of the study that is not done yet")
    common(run)
    run.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="runs side by side (default: cores)")
    run.add_argument("--nice", type=int, default=0, help="niceness of the training processes (default 0)")
    run.add_argument("--settings", nargs="+", help="only these settings")
    run.add_argument("--arms", nargs="+", help="only these arms")
    run.add_argument("--games", nargs="+", help="these games instead of the study's")
    run.add_argument("--seeds", nargs="+", type=int, help="these seeds instead of the study's")
    run.add_argument("--dry-run", action="store_true", help="print the commands of the runs not done, train nothing")

    status = commands.add_parser("status", help="which runs are done")
    common(status)

    rand = commands.add_parser("random", help=f"measure the random policy's scores into <log folder>/{RANDOM_SCORES_FILE}")
    common(rand)
    rand.add_argument("--episodes", type=int, default=1000, help="episodes per game (default 1000)")
    rand.add_argument("--games", nargs="+", help="these games instead of the study's")

    report = commands.add_parser("report", help="statistics, plots and table of the finished runs")
    common(report)
    report.add_argument("-o", "--output", required=True, help="folder for the PNGs and report.md")
    report.add_argument("--last", type=int, default=100, help="final score: mean of each run's last N episodes (100)")
    report.add_argument("--reps", type=int, default=2000, help="bootstrap resamples (default 2000)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        study = load_study(args.study)
        root = Path(args.log_folder)
        if args.command == "run":
            if args.workers < 1:
                parser.error(f"--workers={args.workers} must be >= 1")
            runs = study.runs(args.settings, args.arms, args.games, args.seeds)
            return 1 if run_study(study, root, runs, args.workers, args.nice, args.dry_run) else 0
        if args.command == "status":
            runs = study.runs()
            for run in runs:
                print(f"{'done' if is_done(root, run) else 'todo'}  {run.key}")
            print(f"{sum(is_done(root, r) for r in runs)} of {len(runs)} done")
            return 0
        if args.command == "random":
            if args.episodes < 1:
                parser.error(f"--episodes={args.episodes} must be >= 1")
            import pandas as pd

            table = pd.DataFrame(random_scores(args.games or study.games, args.episodes))
            root.mkdir(parents=True, exist_ok=True)
            table.to_csv(root / RANDOM_SCORES_FILE, index=False)
            print(table.to_string(index=False))
            return 0
        from ppog_sb3.zoo.study_report import report

        report(study, root, Path(args.output), last=args.last, reps=args.reps)
        return 0
    except StudyError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
