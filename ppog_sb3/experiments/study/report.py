"""``ppog-zoo study report``: the statistics of a study's finished runs, with rliable (Agarwal et al. 2021).

For every finished run (``study_run.yml`` present) the final score is the mean return of its last ``last`` training
episodes (all envs, monitor files). Per game it is normalized, ``(score - random) / (reference - random)``: random is
the uniform-random policy's mean (``random_scores.csv``, ``ppog-zoo study random``), reference the mean final score
of the study's ``reference_arm``. Per setting, over games and seeds:

- the interquartile mean (IQM) of normalized scores of each arm, with a 95% stratified-bootstrap interval;
- the probability of improvement P(X > Y) (Mann-Whitney per game, averaged over games) for each pair of arms, with a
  95% stratified independent bootstrap interval;
- performance profiles: the fraction of runs with a normalized score above tau, with 95% bands;
- for a setting with ``score_at: [N, ...]`` (study file), the IQM and P(X > Y) of its runs' scores at N agent steps
  too: the mean return of the last ``last`` episodes that ended by step N, normalized the same way (the reference
  is still the reference arm's final score), e.g. a tuned setting at its searches' budget.

Written to the output folder (the figures drawn by :mod:`.plots`): ``report.md`` (the tables, also printed),
``final_scores.csv`` (one row per run), ``aggregate.png`` (IQM intervals), ``probability_of_improvement.png``,
``performance_profiles.png``, and ``curves_<setting>.png`` (learning curves per game). Every bootstrap is seeded
(``seed``): the same runs give the same numbers. Only complete (arm, seed) pairs count, i.e. seeds for which the arm
has every game: a stratified bootstrap needs each game's runs, and an arm that misses games would be compared on
other games.

Games per setting (the study file's ``games``, :meth:`~ppog_sb3.experiments.study.spec.Study.games_of`): a setting's
statistics cover those of its games that every arm playing them has a finished run of; the others are named in
``report.md`` as not there yet (a study whose new games are still training reports the rest). An arm that plays fewer
games than its setting (the ablation) has its IQM over its own games and each P(X > Y) is over the games both arms
play; per game, the raw scores table and the per-game P(X > Y).
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ppog_sb3.experiments.compare.reading import load_run, read_progress
from ppog_sb3.experiments.study.plots import plot_aggregate, plot_curves, plot_improvement, plot_profiles
from ppog_sb3.experiments.study.spec import RANDOM_SCORES_FILE, Study, StudyError, is_done, marker_path, zoo_run_dir

#: profile thresholds (normalized score)
TAUS = np.linspace(0.0, 2.0, 41)
RLIABLE_HINT = 'ppog-zoo study report needs rliable: pip install "ppog-sb3[study]"'


def collect_scores(study: Study, root: str | Path, last: int = 100) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(per_run, episodes)``: one row per finished run (``setting, arm, algo, game, seed, episodes, timesteps,
    final_score, wall_s, resumed``, the trust-region means, and ``score_at_<N>`` for each budget N of any setting's
    ``score_at``: the mean return of the last ``last`` episodes that ended by agent step N, NaN for the runs of other
    settings) and all their episodes (``load_run`` rows plus ``setting, arm, game``)."""
    rows, tables = [], []
    for run in study.runs():
        if not is_done(root, run):
            continue
        record = yaml.safe_load(marker_path(root, run).read_text())
        episodes = load_run(zoo_run_dir(root, run), algo=run.arm.name, run=f"seed_{run.seed}")
        progress = read_progress(zoo_run_dir(root, run) / "progress.csv")
        if episodes.empty:
            raise StudyError(f"finished run {run.key} has no episodes in {zoo_run_dir(root, run)}")
        at = {
            score_column(budget): float(episodes.loc[episodes["timesteps"] <= budget, "reward"].tail(max(int(last), 1)).mean())
            for budget in study.score_at_of(run.setting)
        }
        rows.append(
            {
                "setting": run.setting,
                "arm": run.arm.name,
                "algo": run.arm.algo,
                "game": run.game,
                "seed": run.seed,
                "episodes": len(episodes),
                "timesteps": float(episodes["timesteps"].iloc[-1]),
                "final_score": float(episodes["reward"].tail(max(int(last), 1)).mean()),
                "wall_s": float(record.get("wall_s", float("nan"))),
                "resumed": len(record.get("resumed_at_steps") or []),  # resumes from a checkpoint (runner.execute)
                # trust-region diagnostics, mean over the run's updates (SB3's meaning of clip_fraction for both)
                "clip_fraction": _mean_column(progress, "train/clip_fraction"),
                "approx_kl": _mean_column(progress, "train/approx_kl"),
                **at,
            }
        )
        tables.append(episodes.assign(setting=run.setting, arm=run.arm.name, game=run.game))
    columns = ["setting", "arm", "algo", "game", "seed", "episodes", "timesteps", "final_score", "wall_s", "resumed"]
    per_run = pd.DataFrame(rows, columns=[*columns, "clip_fraction", "approx_kl", *map(score_column, study.score_budgets())])
    return per_run, (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame())


def score_column(budget: int) -> str:
    """The ``per_run`` column of the score at ``budget`` agent steps (:func:`collect_scores`)."""
    return f"score_at_{budget}"


@contextlib.contextmanager
def _seeded_numpy(seed: int) -> Iterator[np.random.RandomState]:
    """A seeded RandomState for rliable, with NumPy's global generator seeded too and restored afterwards.

    Decision: rliable 1.2's ``StratifiedBootstrap`` draws its resamples from ``np.random.choice`` (the global generator)
    and ignores its ``random_state`` argument, so without this the same runs gave other intervals on every report.
    The caller's global random state is put back on exit."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            # arch 7 warns that rliable's random_state= is deprecated: rliable's business, not the reader's
            warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
            yield np.random.RandomState(seed)
    finally:
        np.random.set_state(saved)


def _mean_column(progress: pd.DataFrame, column: str) -> float:
    return float(progress[column].mean()) if column in progress.columns else float("nan")


def normalize(
    per_run: pd.DataFrame, random: dict[str, float], reference: dict[str, float], column: str = "final_score"
) -> pd.Series:
    """``(score - random) / (reference - random)`` per game, of the score in ``column``."""
    for game in per_run["game"].unique():
        if game not in random:
            raise StudyError(f"no random-policy score for {game}: run ppog-zoo study random")
        if game not in reference:
            raise StudyError(f"no reference score for {game}: the reference arm has no finished run of it")
        if reference[game] == random[game]:
            raise StudyError(f"{game}: the reference score equals the random score ({random[game]}), cannot normalize")
    low = per_run["game"].map(random)
    high = per_run["game"].map(reference)
    return (per_run[column] - low) / (high - low)


def setting_games(study: Study, per_run: pd.DataFrame, setting: str) -> list[str]:
    """The games of ``setting`` in its statistics: those of its games that every arm playing them has a finished run
    of (``per_run`` rows), among the arms with any finished run in the setting (an arm not started yet waits)."""
    done = per_run[per_run["setting"] == setting]
    started = set(done["arm"])
    return [
        game
        for game in study.games_of(setting)
        if ((done["game"] == game).any())
        and all(
            ((done["arm"] == arm) & (done["game"] == game)).any()
            for arm in study.settings[setting]
            if arm in started and game in study.games_of(setting, arm)
        )
    ]


def score_matrices(per_run: pd.DataFrame, setting: str, games: list[str], column: str = "normalized") -> dict[str, np.ndarray]:
    """``arm -> (seeds, games)`` normalized scores (``column``) of the seeds for which the arm has every game."""
    result = {}
    frame = per_run[per_run["setting"] == setting]
    for arm, runs in frame.groupby("arm", sort=False):
        table = runs.pivot_table(index="seed", columns="game", values=column, aggfunc="first")
        table = table.reindex(columns=games).dropna()
        if len(table):
            result[str(arm)] = table.to_numpy(dtype=float)
    return result


def comparisons(arms: list[str]) -> list[tuple[str, str]]:
    """The pairs (X, Y) whose P(X > Y) is reported: ``ppog`` against every other arm (the question), then every other
    arm against ``ppo`` (e.g. the ablation ``ppog_clip``: the entropy decay's own effect). Without those names: every
    ordered pair once (X before Y in the study's order)."""
    if "ppog" in arms and "ppo" in arms:
        pairs = [("ppog", other) for other in arms if other != "ppog"]
        return pairs + [(other, "ppo") for other in arms if other not in ("ppog", "ppo")]
    return list(itertools.combinations(arms, 2))


def _interval(point: float, interval: np.ndarray) -> str:
    return f"{point:.3f} [{float(interval[0]):.3f}, {float(interval[1]):.3f}]"


def report(
    study: Study, root: str | Path, output: Path, last: int = 100, reps: int = 2000, seed: int = 0, echo: bool = True
) -> dict[str, Any]:
    """Compute the statistics of the finished runs, write the files (module docstring), print the tables (``echo``);
    return the numbers (``iqm``, ``probability_of_improvement``, per setting)."""
    try:
        from rliable import library as rly
        from rliable import metrics
    except ModuleNotFoundError as error:
        raise StudyError(RLIABLE_HINT) from error
    root = Path(root)
    random_file = root / RANDOM_SCORES_FILE
    if not random_file.is_file():
        raise StudyError(f"{random_file} does not exist: run ppog-zoo study random first")
    random_table = pd.read_csv(random_file)
    random = dict(zip(random_table["game"], random_table["mean"].astype(float), strict=True))
    per_run, episodes = collect_scores(study, root, last=last)
    if per_run.empty:
        raise StudyError(f"no finished run of {study.path} in {root}")
    ref_setting, ref_arm = study.reference_arm
    reference_runs = per_run[(per_run["setting"] == ref_setting) & (per_run["arm"] == ref_arm)]
    reference = reference_runs.groupby("game")["final_score"].mean().to_dict()
    if not reference:  # nothing could be normalized: an empty report would look like a finished one with no result
        raise StudyError(
            f"no finished run of the reference arm {ref_setting}/{ref_arm} in {root} yet: every score is normalized "
            f"by its mean final score per game (reference_arm in {study.path.name})"
        )
    # An unfinished study: only the games the reference arm has a finished run of can be normalized
    left_out = sorted(set(per_run["game"]) - set(reference))
    not_yet = [game for game in study.games if game not in set(per_run["game"])]  # no finished run at all
    per_run = per_run[per_run["game"].isin(list(reference))].reset_index(drop=True)
    episodes = episodes[episodes["game"].isin(list(reference))] if len(episodes) else episodes
    per_run["normalized"] = normalize(per_run, random, reference)
    output.mkdir(parents=True, exist_ok=True)
    per_run.to_csv(output / "final_scores.csv", index=False)
    games = [g for g in study.games if g in set(per_run["game"])]

    lines = [
        f"# Study report: {study.path.name}",
        "",
        f"Final score: mean return of each run's last {last} training episodes. Normalized per game: "
        f"(score - random) / (reference - random); reference = mean final score of {ref_setting}/{ref_arm}. "
        f"Intervals: 95% stratified bootstrap, {reps} resamples, seed {seed}. Games: {', '.join(games)}."
        + (f" No finished run yet: {', '.join(not_yet)}." if not_yet else "")
        + (f" Left out (no finished run of the reference arm yet): {', '.join(left_out)}." if left_out else ""),
        "",
        "## Runs",
        "",
        _runs_table(study, root, per_run),
        "",
        "## Final scores per game (raw returns: mean +- std over seeds)",
        "",
        _raw_table(per_run, random, reference),
        "",
        "## Trust region: how far the ratios moved (mean over updates and runs)",
        "",
        _diagnostics_table(per_run),
    ]
    for budget in study.score_budgets():
        per_run[f"normalized_at_{budget}"] = normalize(per_run, random, reference, score_column(budget))
    results: dict[str, Any] = {"iqm": {}, "probability_of_improvement": {}, "games": {}, "score_at": {}}
    profile_inputs = {}
    curve_games = {}
    for setting in study.order:
        in_setting = setting_games(study, per_run, setting)
        curve_games[setting] = in_setting
        arm_games = {arm: [g for g in in_setting if g in study.games_of(setting, arm)] for arm in study.settings[setting]}
        stats = _setting_statistics(rly, metrics, per_run, setting, arm_games, "normalized", reps, seed)
        if stats is None:
            continue
        matrices = stats["matrices"]
        arms = list(matrices)
        results["iqm"][setting] = stats["iqm"]
        results["probability_of_improvement"][setting] = stats["probability_of_improvement"]
        results["games"][setting] = {a: arm_games[a] for a in arms}
        profile_inputs[setting] = matrices
        lines += ["", f"## Setting `{setting}`", ""]
        lines += _games_notes(study, setting, in_setting, {a: arm_games[a] for a in arms}, games, not_yet)
        lines += _statistics_lines(stats, "normalized final score")
        for budget in study.score_at_of(setting):
            column = f"normalized_at_{budget}"
            at = _setting_statistics(rly, metrics, per_run, setting, arm_games, column, reps, seed)
            if at is None:
                continue
            results["score_at"].setdefault(setting, {})[budget] = {
                "iqm": at["iqm"],
                "probability_of_improvement": at["probability_of_improvement"],
            }
            lines += [
                "",
                f"### Setting `{setting}` at {budget} agent steps",
                "",
                f"Score at {budget} agent steps: mean return of each run's last {last} training episodes that ended "
                f"by then; normalized with the same random and reference scores (the reference's final scores).",
                "",
                _raw_at_table(per_run, setting, in_setting, score_column(budget)),
                "",
            ]
            lines += _statistics_lines(at, f"normalized score at {budget} steps")

    plot_aggregate(results["iqm"], output / "aggregate.png")
    plot_improvement(results["probability_of_improvement"], output / "probability_of_improvement.png")
    plot_profiles(_profiles(rly, profile_inputs, reps, seed), TAUS, output / "performance_profiles.png")
    for setting in study.order:
        plot_curves(episodes, setting, curve_games[setting], output / f"curves_{setting}.png")
    text = "\n".join(lines) + "\n"
    (output / "report.md").write_text(text)
    if echo:
        print(text)
    return results


def _setting_statistics(
    rly: Any,
    metrics: Any,
    per_run: pd.DataFrame,
    setting: str,
    arm_games: dict[str, list[str]],
    column: str,
    reps: int,
    seed: int,
) -> dict[str, Any] | None:
    """The IQM of each arm and P(X > Y) of each pair (:func:`comparisons`) of one setting, of the normalized scores in
    ``column``, with their seeded bootstrap intervals; None when no arm has a complete seed."""
    matrices: dict[str, np.ndarray] = {}
    for arm in dict.fromkeys(per_run.loc[per_run["setting"] == setting, "arm"]):  # in the order of the runs
        matrix = score_matrices(per_run, setting, arm_games[arm], column).get(arm) if arm_games[arm] else None
        if matrix is not None:
            matrices[arm] = matrix
    if not matrices:
        return None
    with _seeded_numpy(seed) as state:
        points, intervals = rly.get_interval_estimates(
            matrices, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=reps, random_state=state
        )
    arms = list(matrices)
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    pair_games: dict[str, list[str]] = {}
    for x, y in comparisons(arms):
        common = [g for g in arm_games[x] if g in arm_games[y]]
        both = score_matrices(per_run, setting, common, column) if common else {}
        if x in both and y in both:
            pairs[f"{x},{y}"], pair_games[f"{x},{y}"] = (both[x], both[y]), common
    pair_points: dict[str, Any] = {}
    pair_intervals: dict[str, Any] = {}
    if pairs:
        with _seeded_numpy(seed) as state:
            pair_points, pair_intervals = rly.get_interval_estimates(
                pairs, metrics.probability_of_improvement, reps=reps, random_state=state
            )
    per_game = {
        p: {
            game: float(metrics.probability_of_improvement(x_scores[:, [k]], y_scores[:, [k]]))
            for k, game in enumerate(pair_games[p])
        }
        for p, (x_scores, y_scores) in pairs.items()
    }
    return {
        "matrices": matrices,
        "iqm": {a: (float(points[a][0]), intervals[a][:, 0].tolist(), len(matrices[a])) for a in arms},
        "probability_of_improvement": {p: (float(pair_points[p]), np.ravel(pair_intervals[p]).tolist()) for p in pairs},
        "per_game": per_game,
    }


def _profiles(
    rly: Any, inputs: dict[str, dict[str, np.ndarray]], reps: int, seed: int
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray, int]]]:
    """Performance profiles at :data:`TAUS` with their seeded bootstrap bands: ``setting -> arm -> (points, band,
    runs)`` (:func:`.plots.plot_profiles`)."""
    profiles = {}
    for setting, matrices in inputs.items():
        with _seeded_numpy(seed) as state:
            points, intervals = rly.get_interval_estimates(
                matrices, lambda x: rly.score_distributions(x, TAUS), reps=reps, random_state=state
            )
        profiles[setting] = {arm: (points[arm], intervals[arm], len(matrices[arm])) for arm in matrices}
    return profiles


def _statistics_lines(stats: dict[str, Any], what: str) -> list[str]:
    """The IQM table and the P(X > Y) table of :func:`_setting_statistics`."""
    lines = [f"| arm | seeds | IQM of {what} [95% CI] |", "|---|---|---|"]
    lines += [f"| {a} | {n} | {_interval(point, np.array(interval))} |" for a, (point, interval, n) in stats["iqm"].items()]
    if stats["probability_of_improvement"]:
        lines += ["", "| X, Y | P(X > Y) [95% CI] | per game |", "|---|---|---|"]
        for p, (point, interval) in stats["probability_of_improvement"].items():
            per_game = ", ".join(f"{game.split('/')[-1]} {share:.2f}" for game, share in stats["per_game"][p].items())
            lines.append(f"| {p} | {_interval(point, np.array(interval))} | {per_game} |")
    return lines


def _mean_std_cell(scores: pd.Series) -> str:
    """``mean +- std (n=k)`` over seeds (std with ddof=1, 0 for one seed), ``-`` for none."""
    if not len(scores):
        return "-"
    std = scores.std(ddof=1) if len(scores) > 1 else 0.0
    return f"{scores.mean():.2f} +- {std:.2f} (n={len(scores)})"


def _raw_at_table(per_run: pd.DataFrame, setting: str, games: list[str], column: str) -> str:
    """Raw scores at a budget (``column``) of one setting: mean +- std over seeds per arm and game."""
    rows = ["| arm | " + " | ".join(games) + " |", "|---|" + "---|" * len(games)]
    frame = per_run[per_run["setting"] == setting]
    for arm, runs in frame.groupby("arm", sort=False):
        cells = [_mean_std_cell(runs.loc[runs["game"] == game, column].dropna()) for game in games]
        rows.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _games_notes(
    study: Study, setting: str, in_setting: list[str], arm_games: dict[str, list[str]], games: list[str], not_yet: list[str]
) -> list[str]:
    """Lines under a setting's heading when its games are not the report's: which ones it covers, which of its games
    are not in its statistics yet (beyond those with no run at all, named at the top), which arms play fewer."""
    notes = []
    waiting = [game for game in study.games_of(setting) if game not in in_setting]
    if in_setting != games or set(waiting) - set(not_yet):
        notes.append(
            f"Games: {', '.join(in_setting)}."
            + (f" Not yet (no finished run of every arm playing it): {', '.join(waiting)}." if waiting else "")
        )
    for arm, own in arm_games.items():
        if own != in_setting:
            notes.append(f"{arm} plays {', '.join(own)} only: its IQM is over them, its P(X > Y) over the games both play.")
    return [line for note in notes for line in (note, "")]


def _runs_table(study: Study, root: Path, per_run: pd.DataFrame) -> str:
    rows = [
        "| setting | arm | finished / planned | agent steps per run (of them in finished episodes, fewest) "
        "| wall time per run (s) | resumed from a checkpoint |",
        "|---|---|---|---|---|---|",
    ]
    for setting in study.order:
        for arm in study.settings[setting].values():
            planned = [r for r in study.runs(settings=[setting], arms=[arm.name])]
            done = per_run[(per_run["setting"] == setting) & (per_run["arm"] == arm.name)]
            steps = f"{planned[0].n_timesteps} ({done['timesteps'].min():.0f})" if len(done) else "-"
            wall = f"{done['wall_s'].mean():.0f}" if len(done) else "-"
            resumed = f"{int((done['resumed'] > 0).sum())} runs" if len(done) else "-"
            rows.append(f"| {setting} | {arm.name} | {len(done)} / {len(planned)} | {steps} | {wall} | {resumed} |")
    return "\n".join(rows)


def _raw_table(per_run: pd.DataFrame, random: dict[str, float], reference: dict[str, float]) -> str:
    games = list(dict.fromkeys(per_run["game"]))
    rows = ["| setting | arm | " + " | ".join(games) + " |", "|---|---|" + "---|" * len(games)]
    for (setting, arm), frame in per_run.groupby(["setting", "arm"], sort=False):
        cells = [_mean_std_cell(frame.loc[frame["game"] == game, "final_score"]) for game in games]
        rows.append(f"| {setting} | {arm} | " + " | ".join(cells) + " |")
    rows.append("| random policy | | " + " | ".join(f"{random[g]:.2f}" for g in games) + " |")
    rows.append("| reference | | " + " | ".join(f"{reference[g]:.2f}" for g in games) + " |")
    return "\n".join(rows)


def _diagnostics_table(per_run: pd.DataFrame) -> str:
    rows = [
        "| setting | arm | train/clip_fraction (share of samples with abs(ratio - 1) > clip_range) | train/approx_kl |",
        "|---|---|---|---|",
    ]
    for (setting, arm), frame in per_run.groupby(["setting", "arm"], sort=False):
        rows.append(f"| {setting} | {arm} | {frame['clip_fraction'].mean():.4f} | {frame['approx_kl'].mean():.5f} |")
    return "\n".join(rows)
