"""Statistics of the comparison: smoothing, curves on a common grid with 95% bands, final scores.

Smoothing is a rolling mean that keeps the first episodes (``min_periods=1``); SB3's ``results_plotter.window_func``
drops the first ``window - 1`` points, which would hide the start of short runs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def t_quantile_975(df: int) -> float:
    """Two-sided 95% Student t quantile ``t_{0.975, df}`` (scipy's ``t.ppf``); NaN for ``df < 1``."""
    return float(stats.t.ppf(0.975, df)) if df >= 1 else float("nan")


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
        half = np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)), 0.0) * std / np.sqrt(n)
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
