"""``ppog-zoo compare``: PPOG-vs-PPO comparison plots and tables from rl-zoo log folders (no Jupyter needed).

::

    ppog-zoo compare -f logs/ --env SpaceInvadersNoFrameskip-v4 -o report/ [--algos ppog ppo] [--x timesteps]
                     [--window 100] [--last 100] [--threshold 475] [--metric-window 10] [--frames-per-step N]

reads every run folder ``<logs>/<algo>/<env>_<n>/`` of each algorithm (the zoo's layout; ``ppog/Game-v5`` is stored as
``ppog-Game-v5``) and writes, into the output folder (``<env>`` = the folder name of the env):

- ``<env>_learning_curves.png``: episode score against agent steps (or episodes, or wall-clock hours), from the zoo's
  monitor CSV files. Each run is smoothed (mean of the last ``--window`` episodes), put on a common grid, and each
  algorithm is drawn as the mean over its runs (seeds) with a 95% confidence band (Student t, n - 1 degrees of
  freedom). The band and the mean cover the steps that *every* run of that algorithm reached.
- ``<env>_masked_clip_fraction.png``: PPOG's ``train/masked_fraction`` (samples in PPO-clip's zero-gradient set, whose
  gradient PPOG switches off) against PPO's ``train/clip_fraction`` (samples with ``|ratio - 1| > clip_range``),
  per update, from each run's ``progress.csv`` (SB3's CSV logger).
- ``<env>_approx_kl.png``: ``train/approx_kl`` of both, from ``progress.csv``.
  Runs without ``progress.csv`` are left out of these two plots; with none at all they are skipped with a note.
- ``<env>_final_scores.csv`` / ``.md`` (the markdown table is also printed) and ``<env>_final_scores_per_run.csv``:
  per algorithm, the mean +- std over runs of each run's mean score over its last ``--last`` episodes, and with
  ``--threshold`` the agent steps at which the smoothed curve first reaches it (mean +- std over the runs that did).

Scores are what the monitor CSV says: for the zoo's ALE ``NoFrameskip`` ids the Monitor sits below ``AtariWrapper``,
so a row is a full game (all lives) with the unclipped score, and its length ``l`` counts emulator frames; lengths are
converted to agent steps by dividing by the frame skip (``AtariWrapper``'s ``frame_skip`` from the run's saved
``config.yml``; without it, 4 for ids containing ``NoFrameskip``, else 1; ``--frames-per-step`` overrides both).

The functions (:func:`load_runs`, :func:`load_progress`, :func:`plot_learning_curves`, :func:`plot_training_metric`,
:func:`final_scores`, :func:`compare`) are what the notebooks use; each plot function returns the figure and the data
it drew. Figures are plain ``matplotlib.figure.Figure`` objects (no pyplot, no display; PNG through Agg).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from matplotlib.axes import Axes
from matplotlib.figure import Figure

PROG = "ppog-zoo compare"

#: x axes of the learning curves: column of the episodes table, axis label
X_AXES: dict[str, tuple[str, str]] = {
    "timesteps": ("timesteps", "agent steps (all envs)"),
    "episodes": ("episode", "episodes (all envs)"),
    "walltime": ("walltime_h", "wall-clock time (hours)"),
}

#: progress.csv column of the "fraction of samples whose gradient is cut" plot, per algorithm (default: clip_fraction)
FRACTION_METRIC: dict[str, str] = {"ppog": "train/masked_fraction"}
DEFAULT_FRACTION_METRIC = "train/clip_fraction"
STEPS_COLUMN = "time/total_timesteps"

#: fixed colours so that PPOG and PPO look the same in every plot
ALGO_COLORS: dict[str, str] = {"ppog": "tab:red", "ppo": "tab:blue", "a2c": "tab:green"}

EPISODE_COLUMNS = [
    "algo",
    "run",
    "seed",
    "episode",
    "timesteps",
    "walltime_h",
    "reward",
    "length",
]

# Two-sided 95% Student t quantiles t_{0.975, df}, df = 1..30 (beyond: the normal 1.96; no scipy needed)
_T975 = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
]  # fmt: skip


class CompareError(Exception):
    """A user error (missing folder, no runs, bad option): ``main`` prints it as one line and exits with 1."""


# ---------------------------------------------------------------------- finding and reading runs
def env_folder_name(env_id: str) -> str:
    """The zoo's folder name of an env id (huggingface_sb3's ``EnvironmentName``): ``ppog/X-v5`` -> ``ppog-X-v5``."""
    name = env_id.replace("/", "-")
    if ":" in name:  # "module:EnvId" -> "EnvId"
        name = name.split(":")[-1]
    return name


def find_runs(log_folder: str | Path, env: str, algo: str) -> list[Path]:
    """Run folders ``<log_folder>/<algo>/<env>_<n>[_<uuid>]``, sorted by run number (empty list: none)."""
    base = Path(log_folder) / algo
    if not base.is_dir():
        return []
    pattern = re.compile(rf"^{re.escape(env_folder_name(env))}_(\d+)(_[0-9a-fA-F-]{{36}})?$")
    runs = []
    for path in base.iterdir():
        match = pattern.match(path.name)
        if match and path.is_dir():
            runs.append((int(match.group(1)), path.name, path))
    return [path for _, _, path in sorted(runs)]


def _yaml_loader() -> type[yaml.SafeLoader]:
    """A safe YAML loader that also reads the zoo's ``!!python/object/apply:collections.OrderedDict`` files."""

    class ZooLoader(yaml.SafeLoader):
        pass

    def ordered_dict(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        (pairs,) = loader.construct_sequence(node, deep=True)
        return {key: value for key, value in pairs}

    ZooLoader.add_constructor("tag:yaml.org,2002:python/object/apply:collections.OrderedDict", ordered_dict)
    return ZooLoader


def _read_zoo_yaml(run_dir: Path, name: str) -> dict[str, Any]:
    """``<run>/<name>`` or ``<run>/<env>/<name>`` (``args.yml``, ``config.yml``), or {} when absent or unreadable."""
    for path in [run_dir / name, *sorted(run_dir.glob(f"*/{name}"))]:
        if not path.is_file():
            continue
        try:
            data = yaml.load(path.read_text(), Loader=_yaml_loader())  # noqa: S506 (a safe loader)
        except (OSError, yaml.YAMLError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return {}


def run_seed(run_dir: str | Path) -> int | None:
    """The ``--seed`` of a zoo run (from its ``args.yml``, see :func:`_read_zoo_yaml`), None when unknown."""
    seed = _read_zoo_yaml(Path(run_dir), "args.yml").get("seed")
    return int(seed) if isinstance(seed, int) else None


def _wrapper_frame_skip(env_wrapper: Any) -> int | None:
    """``frame_skip`` of an ``AtariWrapper`` in a zoo ``env_wrapper`` entry (string, dict or list of them)."""
    items = env_wrapper if isinstance(env_wrapper, list) else [env_wrapper]
    for item in items:
        if isinstance(item, str) and item.endswith("AtariWrapper"):
            return 4
        if isinstance(item, dict):
            for name, kwargs in item.items():
                if str(name).endswith("AtariWrapper"):
                    return int((kwargs or {}).get("frame_skip", 4))
    return None


def frames_per_step(run_dir: str | Path, env_id: str | None = None) -> int:
    """How many monitor-length units make one agent step for this run (see the module docstring)."""
    config = _read_zoo_yaml(Path(run_dir), "config.yml")
    if "env_wrapper" in config:
        skip = _wrapper_frame_skip(config["env_wrapper"])
        return skip if skip is not None else 1
    return 4 if env_id is not None and "NoFrameskip" in env_id else 1


def read_monitor_files(run_dir: str | Path) -> tuple[pd.DataFrame, str | None]:
    """All ``*monitor.csv`` of a run folder as one table ``r, l, t`` (t: seconds since the first env started),
    ordered by end time, and the env id of their headers. Empty table when there are none or they hold no episode.
    """
    frames, t_starts, env_id = [], [], None
    for path in sorted(Path(run_dir).glob("*monitor.csv")):
        with open(path) as file:
            first = file.readline()
            try:
                header = json.loads(first[1:]) if first.startswith("#") else {}
            except json.JSONDecodeError:
                header = {}
            try:
                table = pd.read_csv(file)
            except pd.errors.EmptyDataError:
                continue
        if not {"r", "l", "t"} <= set(table.columns):
            continue
        table = table[["r", "l", "t"]].apply(pd.to_numeric, errors="coerce").dropna()  # a half-written last row
        t_start = float(header.get("t_start", 0.0))
        env_id = env_id or header.get("env_id")
        table["t"] = table["t"] + t_start
        t_starts.append(t_start)
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["r", "l", "t"]), env_id
    data = pd.concat(frames, ignore_index=True).sort_values("t", kind="stable").reset_index(drop=True)
    data["t"] -= min(t_starts)
    return data, env_id


def load_run(run_dir: str | Path, algo: str = "", run: str | None = None, frame_skip: int | None = None) -> pd.DataFrame:
    """The episodes of one run folder (monitor CSVs), one row per episode in order of end time.

    Columns: ``algo, run, seed, episode`` (1, 2, ...), ``timesteps`` (agent steps of all envs when the episode ended:
    cumulative episode lengths / frames per step), ``walltime_h``, ``reward`` (the monitor's ``r``), ``length``.
    Works on any folder of SB3 monitor files (e.g. ``make_vec_env(..., monitor_dir=folder)``), not only zoo runs.
    """
    run_dir = Path(run_dir)
    monitor, env_id = read_monitor_files(run_dir)
    skip = frame_skip if frame_skip is not None else frames_per_step(run_dir, env_id)
    n = len(monitor)
    return pd.DataFrame(
        {
            "algo": [algo] * n,
            "run": [run or run_dir.name] * n,
            "seed": pd.array([run_seed(run_dir)] * n, dtype="Int64"),
            "episode": np.arange(1, n + 1),
            "timesteps": monitor["l"].cumsum().to_numpy(dtype=float) / skip,
            "walltime_h": monitor["t"].to_numpy(dtype=float) / 3600.0,
            "reward": monitor["r"].to_numpy(dtype=float),
            "length": monitor["l"].to_numpy(dtype=float),
        },
        columns=EPISODE_COLUMNS,
    )


def load_runs(log_folder: str | Path, env: str, algo: str, frame_skip: int | None = None) -> pd.DataFrame:
    """The episodes of every run of ``algo`` on ``env`` in a zoo log folder (:func:`load_run` rows, all runs)."""
    tables = [load_run(path, algo=algo, frame_skip=frame_skip) for path in find_runs(log_folder, env, algo)]
    tables = [table for table in tables if len(table)]
    if not tables:
        return pd.DataFrame(columns=EPISODE_COLUMNS)
    return pd.concat(tables, ignore_index=True)


def read_progress(path: str | Path) -> pd.DataFrame:
    """SB3's ``progress.csv`` (CSV logger) as a table, numeric columns as numbers; empty when unreadable."""
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return pd.DataFrame()
    for column in table.columns:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    return table


def find_progress_file(run_dir: str | Path) -> Path | None:
    """``<run>/progress.csv``, else the first ``progress.csv`` below the run folder, else None."""
    run_dir = Path(run_dir)
    direct = run_dir / "progress.csv"
    if direct.is_file():
        return direct
    found = sorted(run_dir.rglob("progress.csv"))
    return found[0] if found else None


def load_progress(log_folder: str | Path, env: str, algo: str) -> pd.DataFrame:
    """The ``progress.csv`` rows (one per update) of every run of ``algo`` on ``env``, with ``algo``, ``run``,
    ``seed`` and ``timesteps`` (= ``time/total_timesteps``) added; empty table when no run has one."""
    tables = []
    for run_dir in find_runs(log_folder, env, algo):
        path = find_progress_file(run_dir)
        if path is None:
            continue
        table = read_progress(path)
        if STEPS_COLUMN not in table.columns or table.empty:
            continue
        table.insert(0, "timesteps", table[STEPS_COLUMN])
        table.insert(0, "seed", pd.array([run_seed(run_dir)] * len(table), dtype="Int64"))
        table.insert(0, "run", run_dir.name)
        table.insert(0, "algo", algo)
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["algo", "run", "seed", "timesteps"])
    return pd.concat(tables, ignore_index=True)


# ---------------------------------------------------------------------- statistics
def t_quantile_975(df: int) -> float:
    """Two-sided 95% Student t quantile for ``df`` degrees of freedom (1.96 for df > 30)."""
    if df < 1:
        return float("nan")
    return _T975[df - 1] if df <= len(_T975) else 1.96


def aggregate_runs(
    data: pd.DataFrame,
    x: str,
    y: str,
    window: int = 1,
    group: str = "algo",
    n_points: int = 200,
    common_range: bool = True,
) -> pd.DataFrame:
    """Smooth each run (rolling mean of ``y`` over ``window`` rows, in order of ``x``), interpolate the runs of each
    group on one grid of ``x``, and return ``group, x, mean, std, low, high, n_runs`` (95% t-interval; ``low`` =
    ``high`` = ``mean`` where one run). ``common_range``: keep the part of the grid that every run of the group covers
    (when there is one); otherwise each grid point averages the runs that cover it."""
    rows = []
    for name, frame in data.groupby(group, sort=False):
        curves = []
        for _, run in frame.groupby("run", sort=False):
            run = run[[x, y]].dropna().sort_values(x, kind="stable")
            if run.empty:
                continue
            smooth = run[y].rolling(max(int(window), 1), min_periods=1).mean()
            curves.append((run[x].to_numpy(dtype=float), smooth.to_numpy(dtype=float)))
        if not curves:
            continue
        lo, hi = min(c[0][0] for c in curves), max(c[0][-1] for c in curves)
        common_lo, common_hi = max(c[0][0] for c in curves), min(c[0][-1] for c in curves)
        if common_range and common_lo <= common_hi:
            lo, hi = common_lo, common_hi
        grid = np.linspace(lo, hi, n_points) if hi > lo else np.array([lo])
        values = np.full((len(curves), len(grid)), np.nan)
        for i, (xs, ys) in enumerate(curves):
            inside = (grid >= xs[0]) & (grid <= xs[-1])
            values[i, inside] = np.interp(grid[inside], xs, ys)
        n = np.sum(~np.isnan(values), axis=0)
        keep = n > 0
        values, grid, n = values[:, keep], grid[keep], n[keep]
        mean = np.nanmean(values, axis=0)
        std = np.zeros_like(mean)
        several = n > 1
        if several.any():
            std[several] = np.nanstd(values[:, several], axis=0, ddof=1)
        half = np.array([t_quantile_975(int(k) - 1) if k > 1 else 0.0 for k in n]) * std / np.sqrt(n)
        rows.append(
            pd.DataFrame(
                {group: name, "x": grid, "mean": mean, "std": std, "low": mean - half, "high": mean + half, "n_runs": n}
            )
        )
    if not rows:
        return pd.DataFrame(columns=[group, "x", "mean", "std", "low", "high", "n_runs"])
    return pd.concat(rows, ignore_index=True)


def final_scores_per_run(episodes: pd.DataFrame, last: int = 100, threshold: float | None = None, window: int = 100):
    """One row per run: ``algo, run, seed, episodes, timesteps`` (at the last episode), ``final_score`` (mean of
    the last ``last`` episodes) and, with ``threshold``, ``steps_to_threshold``: the agent steps at which the mean of
    the last ``window`` episodes first reaches it (NaN if never)."""
    rows = []
    for (algo, run), frame in episodes.groupby(["algo", "run"], sort=False):
        frame = frame.sort_values("episode", kind="stable")
        row = {
            "algo": algo,
            "run": run,
            "seed": frame["seed"].iloc[0],
            "episodes": len(frame),
            "timesteps": float(frame["timesteps"].iloc[-1]),
            "final_score": float(frame["reward"].tail(max(int(last), 1)).mean()),
        }
        if threshold is not None:
            smooth = frame["reward"].rolling(max(int(window), 1), min_periods=1).mean().to_numpy()
            reached = np.flatnonzero(smooth >= threshold)
            row["steps_to_threshold"] = float(frame["timesteps"].iloc[reached[0]]) if len(reached) else float("nan")
        rows.append(row)
    columns = ["algo", "run", "seed", "episodes", "timesteps", "final_score"]
    if threshold is not None:
        columns.append("steps_to_threshold")
    return pd.DataFrame(rows, columns=columns)


def final_scores(episodes: pd.DataFrame, last: int = 100, threshold: float | None = None, window: int = 100) -> pd.DataFrame:
    """One row per algorithm: ``algo, runs, seeds, final_mean, final_std`` (over runs of each run's mean of its last
    ``last`` episodes; std with ddof=1, 0 for one run), ``episodes_per_run``, and with ``threshold``:
    ``reached`` ("k/n"), ``steps_to_threshold_mean/_std`` over the runs that reached it."""
    per_run = final_scores_per_run(episodes, last=last, threshold=threshold, window=window)
    rows = []
    for algo, frame in per_run.groupby("algo", sort=False):
        seeds = [int(s) for s in frame["seed"].dropna()]
        row = {
            "algo": algo,
            "runs": len(frame),
            "seeds": " ".join(map(str, seeds)) if seeds else "",
            "episodes_per_run": float(frame["episodes"].mean()),
            "final_mean": float(frame["final_score"].mean()),
            "final_std": float(frame["final_score"].std(ddof=1)) if len(frame) > 1 else 0.0,
        }
        if threshold is not None:
            steps = frame["steps_to_threshold"].dropna()
            row["reached"] = f"{len(steps)}/{len(frame)}"
            row["steps_to_threshold_mean"] = float(steps.mean()) if len(steps) else float("nan")
            row["steps_to_threshold_std"] = float(steps.std(ddof=1)) if len(steps) > 1 else (0.0 if len(steps) else math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def _number(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 10_000 or digits == 0:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def scores_markdown(table: pd.DataFrame, last: int = 100, threshold: float | None = None) -> str:
    """The :func:`final_scores` table as markdown, ``mean ± std`` in one cell (no ``tabulate`` needed)."""
    header = ["algo", "runs", "seeds", "episodes/run", f"final score (last {last} episodes)"]
    if threshold is not None:
        header += [f"steps to {threshold:g}", "reached"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for _, row in table.iterrows():
        cells = [
            str(row["algo"]),
            str(row["runs"]),
            str(row["seeds"]) or "-",
            _number(row["episodes_per_run"], 0),
            f"{_number(row['final_mean'])} ± {_number(row['final_std'])}",
        ]
        if threshold is not None:
            mean, std = row["steps_to_threshold_mean"], row["steps_to_threshold_std"]
            cells += ["-" if math.isnan(mean) else f"{_number(mean, 0)} ± {_number(std, 0)}", str(row["reached"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- plots
def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (7.0, 4.5)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def algo_color(algo: str, index: int) -> str:
    return ALGO_COLORS.get(algo.lower(), f"C{index % 10}")


def _draw_bands(ax: Axes, curves: pd.DataFrame, group: str = "algo") -> None:
    for i, (name, curve) in enumerate(curves.groupby(group, sort=False)):
        color = algo_color(str(name), i)
        runs = int(curve["n_runs"].max())
        ax.plot(curve["x"], curve["mean"], color=color, label=f"{name} ({runs} run{'s' if runs != 1 else ''})")
        if runs > 1:
            ax.fill_between(curve["x"], curve["low"], curve["high"], color=color, alpha=0.2, linewidth=0)


def plot_learning_curves(
    episodes: pd.DataFrame,
    x: str = "timesteps",
    window: int = 100,
    ax: Axes | None = None,
    title: str | None = None,
    threshold: float | None = None,
    n_points: int = 200,
) -> tuple[Figure, pd.DataFrame]:
    """Episode score per algorithm: mean over runs of the smoothed curves, 95% confidence band (see
    :func:`aggregate_runs`). ``x``: ``timesteps``, ``episodes`` or ``walltime``. Returns the figure and the plotted
    data (``algo, x, mean, std, low, high, n_runs``)."""
    if x not in X_AXES:
        raise CompareError(f"x axis {x!r} is not one of {', '.join(X_AXES)}")
    column, label = X_AXES[x]
    curves = aggregate_runs(episodes, column, "reward", window=window, n_points=n_points)
    fig, ax = _new_axes(ax)
    _draw_bands(ax, curves)
    if threshold is not None:
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    if curves.empty:
        ax.text(0.5, 0.5, "no finished episodes yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(label)
    ax.set_ylabel(f"episode score (mean of last {window} episodes)")
    ax.set_title(title or "Learning curves (mean and 95% CI over runs)")
    ax.grid(alpha=0.3)
    if not curves.empty:
        ax.legend(loc="best")
    return fig, curves


def plot_training_metric(
    progress: pd.DataFrame,
    metric: str | Mapping[str, str],
    ax: Axes | None = None,
    window: int = 10,
    title: str | None = None,
    ylabel: str | None = None,
    n_points: int = 200,
    log_y: bool = False,
    bounds: tuple[float | None, float | None] = (None, None),
) -> tuple[Figure, pd.DataFrame]:
    """A ``progress.csv`` column against agent steps, mean and 95% band over runs, per algorithm. ``metric`` is one
    column name or ``{algo: column}`` (e.g. PPOG's masked fraction against PPO's clip fraction; algorithms not in the
    mapping use ``train/clip_fraction``). ``bounds``: the range the metric lives in (the bands are cut to it, e.g.
    (0, 1) for fractions). Returns the figure and the plotted data (``algo, metric, x, mean, ...``)."""
    frames = []
    for algo, frame in progress.groupby("algo", sort=False):
        column = metric if isinstance(metric, str) else metric.get(str(algo), DEFAULT_FRACTION_METRIC)
        if not isinstance(metric, str) and (column not in frame.columns or frame[column].dropna().empty):
            column = DEFAULT_FRACTION_METRIC  # e.g. a PPOG log from before masked_fraction (PPOG's clip_fraction is it)
        if column not in frame.columns or frame[column].dropna().empty:
            continue
        part = frame[["run", "timesteps", column]].rename(columns={column: "value"})
        part.insert(0, "algo", f"{algo}")
        part.insert(1, "metric", column)
        frames.append(part)
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["algo", "metric", "run", "timesteps"])
    curves = aggregate_runs(data, "timesteps", "value", window=window, n_points=n_points) if frames else pd.DataFrame()
    if not curves.empty:
        metrics = data.groupby("algo", sort=False)["metric"].first()
        curves.insert(1, "metric", curves["algo"].map(metrics))
        curves["algo"] = curves["algo"].astype(str)
        curves["low"] = curves["low"].clip(lower=bounds[0], upper=bounds[1])
        curves["high"] = curves["high"].clip(lower=bounds[0], upper=bounds[1])
    fig, ax = _new_axes(ax)
    if curves.empty:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    else:
        labelled = curves.copy()
        labelled["label"] = [f"{a}: {m.split('/')[-1]}" for a, m in zip(labelled["algo"], labelled["metric"])]
        for i, (algo, curve) in enumerate(labelled.groupby("algo", sort=False)):
            color = algo_color(str(algo), i)
            runs = int(curve["n_runs"].max())
            ax.plot(curve["x"], curve["mean"], color=color, label=f"{curve['label'].iloc[0]} ({runs} runs)")
            if runs > 1:
                ax.fill_between(curve["x"], curve["low"], curve["high"], color=color, alpha=0.2, linewidth=0)
        ax.legend(loc="best")
    if log_y and not curves.empty and (curves["mean"] > 0).any():
        ax.set_yscale("log")
    ax.set_xlabel("agent steps (all envs)")
    ax.set_ylabel(ylabel or (metric if isinstance(metric, str) else "value"))
    ax.set_title(title or (metric if isinstance(metric, str) else "training metric"))
    ax.grid(alpha=0.3)
    return fig, curves


def plot_fractions(progress: pd.DataFrame, ax: Axes | None = None, window: int = 10) -> tuple[Figure, pd.DataFrame]:
    """PPOG's ``train/masked_fraction`` against PPO's ``train/clip_fraction`` (other algorithms: clip_fraction)."""
    return plot_training_metric(
        progress,
        FRACTION_METRIC,
        ax=ax,
        window=window,
        title="PPOG masked fraction vs PPO clip fraction (per update)",
        ylabel="fraction of samples",
        bounds=(0.0, 1.0),
    )


def plot_approx_kl(progress: pd.DataFrame, ax: Axes | None = None, window: int = 10) -> tuple[Figure, pd.DataFrame]:
    """``train/approx_kl`` of every algorithm (per update)."""
    return plot_training_metric(
        progress,
        "train/approx_kl",
        ax=ax,
        window=window,
        title="Approximate KL per update",
        ylabel="approx KL",
        bounds=(0.0, None),
    )


# ---------------------------------------------------------------------- the whole comparison
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
            notes.append(f"{algo}: no progress.csv in its run folders (masked/clip fraction and approx-KL left out)")
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
    x: str = "timesteps",
    window: int = 100,
    last: int = 100,
    threshold: float | None = None,
    metric_window: int = 10,
    frame_skip: int | None = None,
    dpi: int = 120,
) -> Comparison:
    """Read the runs, draw the plots and compute the tables; with ``output``, write the PNG/CSV/markdown files there.
    ``Comparison`` keeps the data, not the figures (plain ``Figure`` objects, freed with it)."""
    episodes, progress, notes = load_comparison(log_folder, env, algos, frame_skip=frame_skip)
    name = env_folder_name(env)
    figures: dict[str, Figure] = {}
    fig, curves = plot_learning_curves(
        episodes, x=x, window=window, threshold=threshold, title=f"{env}: learning curves (mean and 95% CI over seeds)"
    )
    figures["learning_curves"] = fig
    if progress.empty:
        notes.append("no progress.csv in any run: the masked/clip-fraction and approx-KL plots are skipped")
    else:
        figures["masked_clip_fraction"], _ = plot_fractions(progress, window=metric_window)
        figures["approx_kl"], _ = plot_approx_kl(progress, window=metric_window)
    per_run = final_scores_per_run(episodes, last=last, threshold=threshold, window=window)
    scores = final_scores(episodes, last=last, threshold=threshold, window=window)
    markdown = scores_markdown(scores, last=last, threshold=threshold)
    result = Comparison(env, episodes, progress, curves, scores, per_run, markdown, notes=notes)
    if output is not None:
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        for key, figure in figures.items():
            path = out / f"{name}_{key}.png"
            figure.savefig(path, dpi=dpi)
            result.files[key] = path
        for key, table in (("final_scores", scores), ("final_scores_per_run", per_run)):
            path = out / f"{name}_{key}.csv"
            table.to_csv(path, index=False)
            result.files[key] = path
        path = out / f"{name}_final_scores.md"
        path.write_text(f"# {env}\n\n{markdown}\n")
        result.files["final_scores_md"] = path
    return result


# ---------------------------------------------------------------------- command line
def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="PPOG-vs-PPO comparison (learning curves, masked/clip fraction, approx KL, final scores) from "
        "rl-zoo log folders, written as PNG/CSV/markdown files.",
    )
    parser.add_argument("-f", "--folder", required=True, help="zoo log folder (the -f of ppog-zoo train)")
    parser.add_argument("--env", required=True, help="environment id, e.g. SpaceInvadersNoFrameskip-v4")
    parser.add_argument("-o", "--output", default="report", help="output folder (default: report)")
    parser.add_argument("--algos", nargs="+", default=["ppog", "ppo"], help="algorithms to compare (default: ppog ppo)")
    parser.add_argument("--x", choices=list(X_AXES), default="timesteps", help="x axis of the learning curves")
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
    """``ppog-zoo compare ARGS``: returns 0, 1 for a user error (one line on stderr), 2 for bad arguments."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
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
