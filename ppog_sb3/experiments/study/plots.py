"""The figures of ``ppog-zoo study report`` (:mod:`.report` computes every number; these only draw them, as plain
``Figure`` objects saved to PNG without pyplot state)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ppog_sb3.experiments.compare.plots import algo_color, plot_learning_curves


def plot_aggregate(iqm: dict[str, dict[str, Any]], path: Path) -> None:
    """The IQM interval of each (setting, arm): ``iqm[setting][arm] = (point, (low, high), runs)``."""
    labels = [(s, a) for s in iqm for a in iqm[s]]
    fig = Figure(figsize=(7.0, 0.45 * len(labels) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    for i, (setting, arm) in enumerate(labels):
        point, (low, high), n = iqm[setting][arm]
        ax.errorbar(point, i, xerr=[[point - low], [high - point]], fmt="o", color=algo_color(arm, i), capsize=4)
        ax.text(high, i, f"  n={n}", va="center", fontsize=8)
    ax.set_yticks(range(len(labels)), [f"{s}: {a}" for s, a in labels])
    ax.invert_yaxis()
    ax.axvline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("IQM of normalized final score (0 = random, 1 = reference), 95% CI")
    ax.grid(alpha=0.3, axis="x")
    fig.savefig(path, dpi=110)


def plot_improvement(pairs: dict[str, dict[str, Any]], path: Path) -> None:
    """P(X > Y) with its interval per (setting, pair): ``pairs[setting]["x,y"] = (point, (low, high))``."""
    labels = [(s, p) for s in pairs for p in pairs[s]]
    fig = Figure(figsize=(7.0, 0.45 * max(len(labels), 1) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    for i, (setting, pair) in enumerate(labels):
        point, (low, high) = pairs[setting][pair]
        ax.errorbar(point, i, xerr=[[point - low], [high - point]], fmt="o", color="tab:red", capsize=4)
    ax.set_yticks(range(len(labels)), [f"{s}: P({p.replace(',', ' > ')})" for s, p in labels])
    ax.invert_yaxis()
    ax.axvline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability of improvement, 95% CI (0.5: no difference)")
    ax.grid(alpha=0.3, axis="x")
    fig.savefig(path, dpi=110)


def plot_profiles(profiles: dict[str, dict[str, tuple[np.ndarray, np.ndarray, int]]], taus: np.ndarray, path: Path) -> None:
    """Performance profiles, one panel per setting: ``profiles[setting][arm] = (points, (2, len(taus)) band, runs)``."""
    fig = Figure(figsize=(4.2 * max(len(profiles), 1), 3.6), layout="constrained")
    for k, (setting, arms) in enumerate(profiles.items()):
        ax = fig.add_subplot(1, len(profiles), k + 1)
        for i, (arm, (points, band, n)) in enumerate(arms.items()):
            color = algo_color(arm, i)
            style = ("-", "--", ":", "-.")[i % 4]  # arms with the same profile stay visible
            ax.plot(taus, points, color=color, linestyle=style, label=f"{arm} (n={n})")
            ax.fill_between(taus, band[0], band[1], color=color, alpha=0.2, linewidth=0)
        ax.set_title(f"setting {setting}")
        ax.set_xlabel(r"normalized score $\tau$")
        ax.set_ylabel(r"fraction of runs with score > $\tau$")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


def plot_curves(episodes: pd.DataFrame, setting: str, games: list[str], path: Path) -> None:
    """Learning curves of one setting, a panel per game (nothing written when the setting has no episodes)."""
    if episodes.empty or not games or not (episodes["setting"] == setting).any():
        return
    fig = Figure(figsize=(6.0 * len(games), 4.2), layout="constrained")
    for k, game in enumerate(games):
        ax = fig.add_subplot(1, len(games), k + 1)
        frame = episodes[(episodes["setting"] == setting) & (episodes["game"] == game)]
        plot_learning_curves(frame, window=100, ax=ax, title=f"{game}, setting {setting}")
    fig.savefig(path, dpi=110)
