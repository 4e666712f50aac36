"""``ppog-zoo compare``: PPOG-vs-PPO plots and tables from rl-zoo log folders (learning curves with 95% bands,
clip / masked fractions, approx-KL, final scores). Files written and how scores are read: ``docs/experiments.md``.

Layout: :mod:`.reading` (run folders, SB3's ``load_results``, ``progress.csv``), :mod:`.statistics`, :mod:`.plots`
(``(Figure, data)``, no pyplot state), :mod:`.segments` (the training segments of checkpointed runs), :mod:`.command`.
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
from ppog_sb3.experiments.compare.segments import SEGMENT_COLUMNS, run_segments, segments_markdown
from ppog_sb3.experiments.compare.statistics import (
    aggregate_runs,
    final_scores,
    final_scores_per_run,
    scores_markdown,
    t_quantile_975,
)

__all__ = [
    "ALGO_COLORS", "CLIP_FRACTION", "EPISODE_COLUMNS", "MASKED_FRACTION", "PROG", "SEGMENT_COLUMNS", "STEPS_COLUMN",
    "X_AXES",
    "Comparison", "CompareError", "aggregate_runs", "algo_color", "build_parser", "compare", "env_folder_name",
    "final_scores", "final_scores_per_run", "find_progress_file", "find_runs", "frames_per_step",
    "has_legacy_clip_fraction", "load_comparison", "load_progress", "load_run", "load_runs", "main",
    "plot_approx_kl", "plot_clip_fraction", "plot_learning_curves", "plot_masked_fraction", "plot_training_metric",
    "read_monitor_files", "read_progress", "run_segments", "run_seed", "scores_markdown", "segments_markdown",
    "t_quantile_975",
]  # fmt: skip
