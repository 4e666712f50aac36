"""``ppog-zoo compare``: the whole comparison (:func:`compare`) and its command line (:func:`main`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from ppog_sb3.common.run_files import CHECKPOINT_DIR, RESUMES_CSV
from ppog_sb3.experiments.compare.plots import plot_approx_kl, plot_clip_fraction, plot_learning_curves, plot_masked_fraction
from ppog_sb3.experiments.compare.reading import (
    PROG,
    X_AXES,
    CompareError,
    env_folder_name,
    find_runs,
    has_legacy_clip_fraction,
    load_progress,
    load_runs,
)
from ppog_sb3.experiments.compare.segments import SEGMENT_COLUMNS, run_segments, segments_markdown
from ppog_sb3.experiments.compare.statistics import final_scores, final_scores_per_run, scores_markdown


@dataclass
class Comparison:
    """What :func:`compare` read, computed and wrote."""

    env: str
    episodes: pd.DataFrame
    progress: pd.DataFrame
    curves: pd.DataFrame
    scores: pd.DataFrame
    scores_per_run: pd.DataFrame
    markdown: str
    segments: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["algo", *SEGMENT_COLUMNS]))
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def load_comparison(
    log_folder: str | Path, env: str, algos: Sequence[str] = ("ppog", "ppo"), frame_skip: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Episodes and progress rows of every algorithm, and notes about what is missing. Raises :class:`CompareError`
    when the folder is missing or no algorithm has a run with finished episodes."""
    folder = Path(log_folder)
    if not folder.is_dir():
        raise CompareError(f"log folder {str(folder)!r} does not exist")
    notes: list[str] = []
    episodes, progress = [], []
    for algo in algos:
        runs = find_runs(folder, env, algo)
        if not runs:
            notes.append(f"no runs of {algo} on {env} in {folder / algo} (expected folders {env_folder_name(env)}_<n>)")
            continue
        table = load_runs(folder, env, algo, frame_skip=frame_skip)
        if table.empty:
            notes.append(f"{algo}: {len(runs)} run folder(s) but no finished episode in their monitor CSV files")
        else:
            episodes.append(table)
        prog = load_progress(folder, env, algo)
        if prog.empty:
            notes.append(f"{algo}: no progress.csv in its run folders (clip/masked fraction and approx-KL left out)")
        else:
            progress.append(prog)
    if not episodes:
        raise CompareError(
            f"no runs with finished episodes found for {env} ({', '.join(algos)}) in {str(folder)!r}"
            + (f": {notes[0]}" if notes else "")
        )
    prog_table = pd.concat(progress, ignore_index=True) if progress else pd.DataFrame(columns=["algo", "run", "timesteps"])
    return pd.concat(episodes, ignore_index=True), prog_table, notes


def compare(
    log_folder: str | Path,
    env: str,
    output: str | Path | None = None,
    algos: Sequence[str] = ("ppog", "ppo"),
    x: str | Sequence[str] = "timesteps",
    window: int = 100,
    last: int = 100,
    threshold: float | None = None,
    metric_window: int = 10,
    frame_skip: int | None = None,
    dpi: int = 120,
) -> Comparison:
    """Read the runs, draw the plots and compute the tables; with ``output``, write the PNG/CSV/markdown files there.
    ``Comparison`` keeps the data, not the figures (plain ``Figure`` objects, freed with it).

    ``x``: one x axis of :data:`X_AXES` or several; the first one's figure is ``learning_curves`` (and its data
    ``Comparison.curves``), each further one's ``learning_curves_<x>``. Runs trained with checkpoints
    (``--checkpoint-freq``, resumed or not) add their training segments (:mod:`.segments`: agent steps, training time
    and machine of each process) to the markdown and to ``<env>_segments.csv``."""
    axes = [x] if isinstance(x, str) else list(x)
    unknown = [axis for axis in axes if axis not in X_AXES]
    if not axes or unknown:
        raise CompareError(f"x={unknown or axes!r}: the x axes are {', '.join(X_AXES)}")
    episodes, progress, notes = load_comparison(log_folder, env, algos, frame_skip=frame_skip)
    name = env_folder_name(env)
    figures: dict[str, Figure] = {}
    curves = pd.DataFrame()
    for i, axis in enumerate(axes):
        fig, axis_curves = plot_learning_curves(
            episodes, x=axis, window=window, threshold=threshold, title=f"{env}: learning curves (mean and 95% CI over seeds)"
        )
        figures["learning_curves" if i == 0 else f"learning_curves_{axis}"] = fig
        if i == 0:
            curves = axis_curves
    if progress.empty:
        notes.append("no progress.csv in any run: the clip/masked-fraction and approx-KL plots are skipped")
    else:
        groups = progress.groupby(["algo", "run"], sort=False)
        legacy = sorted(f"{algo}/{run}" for (algo, run), rows in groups if has_legacy_clip_fraction(rows))
        if legacy:
            notes.append(
                f"{len(legacy)} run(s) logged train/clip_fraction with PPOG's old meaning (= masked_fraction): left out "
                f"of the clip-fraction plot, shown in the masked-fraction plot ({', '.join(legacy)})"
            )
        figures["clip_fraction"], _ = plot_clip_fraction(progress, window=metric_window)
        figures["masked_fraction"], _ = plot_masked_fraction(progress, window=metric_window)
        figures["approx_kl"], _ = plot_approx_kl(progress, window=metric_window)
    per_run = final_scores_per_run(episodes, last=last, threshold=threshold, window=window)
    scores = final_scores(episodes, last=last, threshold=threshold, window=window)
    markdown = scores_markdown(scores, last=last, threshold=threshold)
    segments = _segments(log_folder, env, algos)
    if len(segments):
        markdown += "\n\n## Training segments (checkpointed and resumed runs)\n\n" + segments_markdown(segments)
    result = Comparison(env, episodes, progress, curves, scores, per_run, markdown, segments=segments, notes=notes)
    if output is not None:
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        for key, figure in figures.items():
            path = out / f"{name}_{key}.png"
            figure.savefig(path, dpi=dpi)
            result.files[key] = path
        tables = [("final_scores", scores), ("final_scores_per_run", per_run)]
        if len(segments):
            tables.append(("segments", segments))
        for key, table in tables:
            path = out / f"{name}_{key}.csv"
            table.to_csv(path, index=False)
            result.files[key] = path
        path = out / f"{name}_final_scores.md"
        path.write_text(f"# {env}\n\n{markdown}\n")
        result.files["final_scores_md"] = path
    return result


def _segments(log_folder: str | Path, env: str, algos: Sequence[str]) -> pd.DataFrame:
    """The training segments (:func:`.segments.run_segments`) of every run trained with checkpoints (a
    ``checkpoint/`` folder or a ``resumes.csv``), with ``algo``."""
    tables = []
    for algo in algos:
        for run_dir in find_runs(log_folder, env, algo):
            if not ((run_dir / CHECKPOINT_DIR).is_dir() or (run_dir / RESUMES_CSV).is_file()):
                continue
            try:
                table = run_segments(run_dir)
            except ValueError as error:
                raise CompareError(str(error)) from error
            if len(table):
                table.insert(0, "algo", algo)
                tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["algo", *SEGMENT_COLUMNS])
    return pd.concat(tables, ignore_index=True)


# ---------------------------------------------------------------------- command line
def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="PPOG-vs-PPO comparison (learning curves, clip and masked fraction, approx KL, final scores) from "
        "rl-zoo log folders, written as PNG/CSV/markdown files.",
    )
    parser.add_argument("-f", "--folder", required=True, help="zoo log folder (the -f of ppog-zoo train)")
    parser.add_argument("--env", required=True, help="environment id, e.g. SpaceInvadersNoFrameskip-v4")
    parser.add_argument("-o", "--output", default="report", help="output folder (default: report)")
    parser.add_argument("--algos", nargs="+", default=["ppog", "ppo"], help="algorithms to compare (default: ppog ppo)")
    parser.add_argument(
        "--x",
        nargs="+",
        choices=list(X_AXES),
        default=["timesteps"],
        help="x axis of the learning curves, or several (one figure each: learning_curves.png for the first, "
        "learning_curves_<x>.png for the others; default: timesteps)",
    )
    parser.add_argument(
        "--window", type=_positive_int, default=100, help="smoothing: mean of the last N episodes (default 100)"
    )
    parser.add_argument(
        "--last", type=_positive_int, default=100, help="final score: mean of each run's last N episodes (default 100)"
    )
    parser.add_argument("--threshold", type=float, default=None, help="also report agent steps to reach this score")
    parser.add_argument(
        "--metric-window", type=_positive_int, default=10, help="smoothing of progress.csv metrics, in updates"
    )
    parser.add_argument(
        "--frames-per-step",
        type=_positive_int,
        default=None,
        help="monitor episode-length units per agent step (default: from the run's config.yml / env id)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``ppog-zoo compare ARGS``: returns 0, 1 for a user error (one line on stderr), 2 for bad arguments.

    The figures are plain ``Figure`` objects saved to files (``savefig`` picks the Agg canvas for PNG by itself):
    the process's matplotlib backend is never switched, so an in-process caller keeps its own."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        result = compare(
            args.folder,
            args.env,
            output=args.output,
            algos=args.algos,
            x=args.x,
            window=args.window,
            last=args.last,
            threshold=args.threshold,
            metric_window=args.metric_window,
            frame_skip=args.frames_per_step,
        )
    except CompareError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"# {args.env}\n\n{result.markdown}\n")
    for path in result.files.values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
