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
- ``<env>_clip_fraction.png``: ``train/clip_fraction`` of every algorithm, per update, from each run's ``progress.csv``
  (SB3's CSV logger): the fraction of samples with ``|ratio - 1| > clip_range``, SB3's meaning, for both losses, so
  PPO and PPOG are compared like with like. PPOG runs logged before PPOG adopted that meaning (their
  ``clip_fraction`` equals their ``masked_fraction`` in every row: it was the mask) are left out of this plot, with
  a note (:func:`~ppog_sb3.experiments.compare.reading.has_legacy_clip_fraction`).
- ``<env>_masked_fraction.png``: PPOG's own ``train/masked_fraction`` (samples in PPO-clip's zero-gradient set, whose
  gradient PPOG switches off), on its own: runs of algorithms that do not log it (PPO) are not drawn.
- ``<env>_approx_kl.png``: ``train/approx_kl`` of both, from ``progress.csv``.
  Runs without ``progress.csv`` are left out of these plots; with none at all they are skipped with a note.
- ``<env>_final_scores.csv`` / ``.md`` (the markdown table is also printed) and ``<env>_final_scores_per_run.csv``:
  per algorithm, the mean +- std over runs of each run's mean score over its last ``--last`` episodes, and with
  ``--threshold`` the agent steps at which the smoothed curve first reaches it (mean +- std over the runs that did).

Scores are what the monitor CSV says: for the zoo's ALE ``NoFrameskip`` ids the Monitor sits below ``AtariWrapper``,
so a row is a full game (all lives) with the unclipped score, and its length ``l`` counts emulator frames; lengths are
converted to agent steps by dividing by the frame skip (``AtariWrapper``'s ``frame_skip`` from the run's saved
``config.yml``; without it, 4 for ids containing ``NoFrameskip``, else 1; ``--frames-per-step`` overrides both).

Layout: :mod:`.reading` (run folders, monitor files read by SB3's ``monitor.load_results``, ``results_plotter.ts2xy``,
``progress.csv``), :mod:`.statistics` (smoothing, confidence bands, final scores), :mod:`.plots` (figures),
:mod:`.command` (:func:`compare` and the command line). Every public function is importable from this package (the
notebooks use :func:`load_runs`, :func:`load_progress`, :func:`plot_learning_curves`, :func:`plot_clip_fraction`,
:func:`plot_masked_fraction`, :func:`final_scores`, :func:`compare`); each plot function returns the figure and the
data it drew. Figures are plain ``matplotlib.figure.Figure`` objects (no pyplot, no display; ``savefig`` writes PNG
through Agg without switching the process's backend).
"""

from ppog_sb3.experiments.compare.command import Comparison, build_parser, compare, load_comparison, main
from ppog_sb3.experiments.compare.plots import (
    algo_color,
    plot_approx_kl,
    plot_clip_fraction,
    plot_learning_curves,
    plot_masked_fraction,
    plot_training_metric,
)
from ppog_sb3.experiments.compare.reading import (
    ALGO_COLORS,
    CLIP_FRACTION,
    EPISODE_COLUMNS,
    MASKED_FRACTION,
    PROG,
    STEPS_COLUMN,
    X_AXES,
    CompareError,
    env_folder_name,
    find_progress_file,
    find_runs,
    frames_per_step,
    has_legacy_clip_fraction,
    load_progress,
    load_run,
    load_runs,
    read_monitor_files,
    read_progress,
    run_seed,
)
from ppog_sb3.experiments.compare.statistics import (
    aggregate_runs,
    final_scores,
    final_scores_per_run,
    scores_markdown,
    t_quantile_975,
)

__all__ = [
    "ALGO_COLORS", "CLIP_FRACTION", "EPISODE_COLUMNS", "MASKED_FRACTION", "PROG", "STEPS_COLUMN", "X_AXES",
    "Comparison", "CompareError", "aggregate_runs", "algo_color", "build_parser", "compare", "env_folder_name",
    "final_scores", "final_scores_per_run", "find_progress_file", "find_runs", "frames_per_step",
    "has_legacy_clip_fraction", "load_comparison", "load_progress", "load_run", "load_runs", "main",
    "plot_approx_kl", "plot_clip_fraction", "plot_learning_curves", "plot_masked_fraction", "plot_training_metric",
    "read_monitor_files", "read_progress", "run_seed", "scores_markdown", "t_quantile_975",
]  # fmt: skip
