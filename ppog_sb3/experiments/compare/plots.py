"""Figures of the comparison: plain ``matplotlib.figure.Figure`` objects, no pyplot state; each function returns
``(figure, data drawn)``."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ppog_sb3.experiments.compare.reading import (
    ALGO_COLORS,
    CLIP_FRACTION,
    MASKED_FRACTION,
    X_AXES,
    CompareError,
    has_legacy_clip_fraction,
)
from ppog_sb3.experiments.compare.statistics import aggregate_runs


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (7.0, 4.5)) -> tuple[Figure, Axes]:
    if ax is not None:
        figure = ax.get_figure(root=True)
        assert isinstance(figure, Figure), "the axes belong to no figure"
        return figure, ax
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
    metric: str,
    ax: Axes | None = None,
    window: int = 10,
    title: str | None = None,
    ylabel: str | None = None,
    n_points: int = 200,
    log_y: bool = False,
    bounds: tuple[float | None, float | None] = (None, None),
) -> tuple[Figure, pd.DataFrame]:
    """A ``progress.csv`` column against agent steps, mean and 95% band over runs, per algorithm. ``metric`` is one
    column name (algorithms whose runs do not log it are not drawn). ``bounds``: the range the metric lives in (the
    bands are cut to it, e.g. (0, 1) for fractions). Returns the figure and the plotted data (``algo, metric, x,
    mean, ...``)."""
    frames = []
    for algo, frame in progress.groupby("algo", sort=False):
        column = metric
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
    ax.set_ylabel(ylabel or metric)
    ax.set_title(title or metric)
    ax.grid(alpha=0.3)
    return fig, curves


def plot_clip_fraction(progress: pd.DataFrame, ax: Axes | None = None, window: int = 10) -> tuple[Figure, pd.DataFrame]:
    """``train/clip_fraction`` of every algorithm (SB3's meaning, ``|ratio - 1| > clip_range``, for both losses);
    runs with the old PPOG meaning (:func:`~.reading.has_legacy_clip_fraction`) are left out."""
    groups = progress.groupby(["algo", "run"], sort=False) if len(progress) else []
    runs, left_out = [], set()
    for (algo, _), run in groups:
        if has_legacy_clip_fraction(run):
            left_out.add(str(algo))
        else:
            runs.append(run)
    kept = pd.concat(runs, ignore_index=True) if runs else progress.iloc[0:0]
    fig, curves = plot_training_metric(
        kept,
        CLIP_FRACTION,
        ax=ax,
        window=window,
        title="Clip fraction per update (|ratio - 1| > clip_range, both losses)",
        ylabel="fraction of samples",
        bounds=(0.0, 1.0),
    )
    if left_out:
        target = ax if ax is not None else fig.axes[0]
        target.text(
            0.01,
            0.01,
            f"left out: {', '.join(sorted(left_out))} runs logged before clip_fraction took SB3's meaning "
            "(it was the masked fraction)",
            transform=target.transAxes,
            fontsize=7,
            color="grey",
            va="bottom",
        )
    return fig, curves


def plot_masked_fraction(progress: pd.DataFrame, ax: Axes | None = None, window: int = 10) -> tuple[Figure, pd.DataFrame]:
    """PPOG's ``train/masked_fraction`` (samples in PPO-clip's zero-gradient set, whose gradient PPOG switches off),
    for the algorithms that log it."""
    logged = progress.dropna(subset=[MASKED_FRACTION]) if MASKED_FRACTION in progress.columns else progress.iloc[0:0]
    return plot_training_metric(
        logged,
        MASKED_FRACTION,
        ax=ax,
        window=window,
        title="PPOG masked fraction per update (PPO-clip's zero-gradient set)",
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
