"""``ppog-zoo study run | status | random | report`` (see :mod:`ppog_sb3.experiments.study`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ppog_sb3.common import run_files
from ppog_sb3.envs.minatar import register_minatar_envs
from ppog_sb3.experiments import study as study_package
from ppog_sb3.experiments.study.runner import random_scores, run_study
from ppog_sb3.experiments.study.spec import PROG, RANDOM_SCORES_FILE, Run, StudyError, is_done, load_study, zoo_run_dir


def _checkpoint(root: Path, run: Run) -> int | None:
    """The step an unfinished run resumes at (its checkpoint), None without one."""
    checkpoint = run_files.read_checkpoint(zoo_run_dir(root, run))
    return checkpoint.num_timesteps if checkpoint is not None else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=(study_package.__doc__ or "").split("\n\n")[0])
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
    run.add_argument("--games", nargs="+", help="only these games (each setting and arm that plays them)")
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
    register_minatar_envs()
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
            done = [is_done(root, run) for run in runs]
            for run, finished in zip(runs, done):
                checkpoint = None if finished else _checkpoint(root, run)
                state = "done" if finished else "todo"
                print(f"{state}  {run.key}" + (f"  (resumes at step {checkpoint})" if checkpoint is not None else ""))
            print(f"{sum(done)} of {len(runs)} done")
            return 0
        if args.command == "random":
            if args.episodes < 1:
                parser.error(f"--episodes={args.episodes} must be >= 1")
            import pandas as pd

            table = pd.DataFrame(random_scores(args.games or study.games, args.episodes))
            root.mkdir(parents=True, exist_ok=True)
            path = root / RANDOM_SCORES_FILE
            if path.is_file():  # measuring some games keeps the others' rows
                kept = pd.read_csv(path)
                table = pd.concat([kept[~kept["game"].isin(table["game"])], table], ignore_index=True)
            table.to_csv(path, index=False)
            print(table.to_string(index=False))
            return 0
        if args.last < 1 or args.reps < 1:
            parser.error(f"--last={args.last} and --reps={args.reps} must be >= 1")
        from ppog_sb3.experiments.study.report import report

        report(study, root, Path(args.output), last=args.last, reps=args.reps)
        return 0
    except StudyError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
