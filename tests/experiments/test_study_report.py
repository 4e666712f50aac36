"""``ppog-zoo study report`` (:mod:`ppog_sb3.experiments.study.report`): its numbers against an independent computation
from episodes written here, its seeded bootstrap, games per setting and arm, and the committed studies' reports."""

from __future__ import annotations

import itertools
import shutil
import zlib
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from experiment_helpers import ASTERIX, BREAKOUT, INVADERS, REPO, finish_run, write_random_scores, write_study
from scipy import stats

from ppog_sb3.experiments.study.report import comparisons, report
from ppog_sb3.experiments.study.spec import Run, Study, StudyError, load_study, marker_path, zoo_run_dir

RANDOM = {BREAKOUT: 0.4, INVADERS: 4.0, ASTERIX: 0.5}
MEANS = {BREAKOUT: 10.0, INVADERS: 20.0, ASTERIX: 5.0}  # ppo's level per game; ppog_clip's too
PPOG_SHIFT = {BREAKOUT: 1.0, INVADERS: -1.0, ASTERIX: 0.5}  # ppog's level minus ppo's
EARLY, LAST = 50, 100  # episodes before the final-score window, and the window (the report's default)
ARMS = {"ppo": {"algo": "ppo", "conf": "ppo.yml"}, "ppog": {"algo": "ppog", "conf": "ppog.yml"}}


def episode_rewards(run: Run) -> list[float]:
    """150 episodes: 50 early ones scoring 1000 (a final score that does not cut them is far off), then 100 around the
    arm's level for the game, with a level per seed (so seeds differ)."""
    rng = np.random.default_rng([run.seed, zlib.crc32(f"{run.setting}/{run.arm.name}/{run.game}".encode())])
    level = MEANS[run.game] + (PPOG_SHIFT[run.game] if run.arm.name == "ppog" else 0.0) + rng.normal(0.0, 2.0)
    return [1000.0] * EARLY + [round(float(x), 3) for x in level + rng.normal(0.0, 1.0, LAST)]


def finished(tmp_path: Path, keep=lambda run: True, **changes) -> tuple[Study, Path]:
    """A study file (``write_study`` with ``changes``) and its runs finished as ``keep`` says, scored by
    :func:`episode_rewards`; ``random_scores.csv`` from ``RANDOM``."""
    study = load_study(write_study(tmp_path, **changes))
    root = tmp_path / "logs"
    write_random_scores(root, RANDOM)
    for run in study.runs():
        if keep(run):
            finish_run(root, run, episode_rewards(run))
    return study, root


def hand_normalized(study: Study, root: Path) -> dict[tuple[str, str, str, int], float]:
    """(setting, arm, game, seed) -> normalized final score, from the rewards written (not from anything the report
    read): the mean of the last 100 episodes, (score - random) / (reference - random), reference = mean over the
    seeds of the reference arm's scores of the game."""
    final = {
        (run.setting, run.arm.name, run.game, run.seed): float(np.mean(episode_rewards(run)[-LAST:]))
        for run in study.runs()
        if marker_path(root, run).is_file()
    }
    ref_setting, ref_arm = study.reference_arm
    reference = {
        game: np.mean([v for (s, a, g, _), v in final.items() if (s, a, g) == (ref_setting, ref_arm, game)])
        for game in {key[2] for key in final}
    }
    return {key: (v - RANDOM[key[2]]) / (reference[key[2]] - RANDOM[key[2]]) for key, v in final.items()}


def hand_iqm(normalized: dict, setting: str, arm: str, games: list[str]) -> float:
    """scipy's trimmed mean, 25% cut at each end: the interquartile mean."""
    values = [v for (s, a, g, _), v in normalized.items() if (s, a) == (setting, arm) and g in games]
    return float(stats.trim_mean(values, 0.25))


def hand_improvement(normalized: dict, setting: str, x: str, y: str, games: list[str]) -> float:
    """P(X > Y) by counting: per game, the share of (x run, y run) pairs with x > y (ties 1/2), averaged over games."""
    shares = []
    for game in games:
        xs = [v for (s, a, g, _), v in normalized.items() if (s, a, g) == (setting, x, game)]
        ys = [v for (s, a, g, _), v in normalized.items() if (s, a, g) == (setting, y, game)]
        shares.append(np.mean([(a > b) + 0.5 * (a == b) for a in xs for b in ys]))
    return float(np.mean(shares))


def test_comparisons():
    assert comparisons(["ppo", "ppog", "ppog_clip"]) == [("ppog", "ppo"), ("ppog", "ppog_clip"), ("ppog_clip", "ppo")]
    assert comparisons(["a", "b", "c"]) == [("a", "b"), ("a", "c"), ("b", "c")]


def test_the_numbers_are_those_of_the_episodes(tmp_path):
    """Every number recomputed from the rewards written, not from the report's own table: final score = the mean of
    the last 100 of 150 episodes (the window cuts: the 50 early episodes score 1000), normalization, the IQM
    (scipy's trim_mean) and P(X > Y) (a hand count). Catches a final score over all episodes or another window, a
    wrong reference or random score, the IQM replaced by the mean, and P(X > Y) with its arms swapped."""
    study, root = finished(tmp_path, seeds=list(range(1, 9)))
    results = report(study, root, tmp_path / "out", reps=200, echo=False)
    normalized = hand_normalized(study, root)
    scores = pd.read_csv(tmp_path / "out" / "final_scores.csv")
    assert len(scores) == 32 and (scores["episodes"] == EARLY + LAST).all()
    for row in scores.itertuples():
        run = next(r for r in study.runs() if (r.arm.name, r.game, r.seed) == (row.arm, row.game, row.seed))
        rewards = episode_rewards(run)
        assert row.final_score == pytest.approx(np.mean(rewards[-LAST:]), rel=1e-12)
        assert row.final_score < 100 < np.mean(rewards)  # the cut happened
        assert row.normalized == pytest.approx(normalized[("tiny", row.arm, row.game, row.seed)], rel=1e-9)
    games = [BREAKOUT, INVADERS]
    for arm in ("ppo", "ppog"):
        point, (low, high), n = results["iqm"]["tiny"][arm]
        assert n == 8 and point == pytest.approx(hand_iqm(normalized, "tiny", arm, games), rel=1e-9) and low <= point <= high
        mean = np.mean([v for (s, a, _, _), v in normalized.items() if a == arm])
        assert point != pytest.approx(mean, rel=1e-6)  # the IQM is not the mean here: the check can tell them apart
    point, (low, high) = results["probability_of_improvement"]["tiny"]["ppog,ppo"]
    hand = hand_improvement(normalized, "tiny", "ppog", "ppo", games)
    assert point == pytest.approx(hand, abs=1e-12) and low <= point <= high and hand != pytest.approx(0.5)
    text = (tmp_path / "out" / "report.md").read_text()
    assert f"last {LAST} training episodes" in text and "| tiny | ppo | 16 / 16 |" in text


def test_the_bootstrap_is_seeded(tmp_path):
    """The same runs and seed give the same intervals; another seed gives other ones, so the seed is what fixes them
    (12 seeds x 2 games, continuous scores: unseeded resamples give other intervals every time). Catches the seed
    not set before rliable's bootstrap (its ``random_state`` is ignored, see report._seeded_numpy), a fixed seed in
    place of ``seed``, and a caller's global NumPy state left changed."""
    study, root = finished(tmp_path, seeds=list(range(1, 13)))
    state = np.random.get_state()
    first = report(study, root, tmp_path / "a", reps=200, seed=0, echo=False)
    again = report(study, root, tmp_path / "b", reps=200, seed=0, echo=False)
    other = report(study, root, tmp_path / "c", reps=200, seed=1, echo=False)
    assert (tmp_path / "a" / "report.md").read_bytes() == (tmp_path / "b" / "report.md").read_bytes()
    assert first == again
    for arm in ("ppo", "ppog"):
        assert first["iqm"]["tiny"][arm][0] == other["iqm"]["tiny"][arm][0]  # the point estimate needs no resampling
        assert first["iqm"]["tiny"][arm][1] != other["iqm"]["tiny"][arm][1], arm
    assert (
        first["probability_of_improvement"]["tiny"]["ppog,ppo"][1]
        != other["probability_of_improvement"]["tiny"]["ppog,ppo"][1]
    )
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state()[1:3], state[1:3]))  # the caller's RNG kept


def test_a_setting_is_scored_at_its_earlier_budget_too(tmp_path):
    """``score_at: [1000]``: each run's score at 1,000 agent steps is the mean of the last 100 episodes that ended by
    then (episodes of 10 steps: the first 100, half of them the early 1000s), normalized with the final scores'
    reference; its IQM and P(X > Y) recomputed by hand from the rewards written. Catches the budget ignored (the
    final score again), episodes after the budget counted, another reference, and the section missing."""
    settings = {"tiny": {**ARMS, "score_at": [1000]}}
    study, root = finished(tmp_path, seeds=list(range(1, 7)), settings=settings, n_timesteps=2000)  # 150 episodes: 1,500
    assert study.score_at_of("tiny") == (1000,)
    results = report(study, root, tmp_path / "out", reps=100, echo=False)
    final = hand_normalized(study, root)  # its reference is the one of the scores at the budget too
    reference = {  # the reference arm's mean final score per game
        game: np.mean([np.mean(episode_rewards(r)[-LAST:]) for r in study.runs(arms=["ppo"], games=[game])])
        for game in (BREAKOUT, INVADERS)
    }
    at = {
        key: (float(np.mean(episode_rewards(run)[:100])) - RANDOM[key[2]]) / (reference[key[2]] - RANDOM[key[2]])
        for run in study.runs()
        for key in [(run.setting, run.arm.name, run.game, run.seed)]
    }
    assert all(at[key] != pytest.approx(final[key]) for key in at)  # the two scores differ: the check can tell
    scores = pd.read_csv(tmp_path / "out" / "final_scores.csv")
    for row in scores.itertuples():
        run = next(r for r in study.runs() if (r.arm.name, r.game, r.seed) == (row.arm, row.game, row.seed))
        assert row.score_at_1000 == pytest.approx(np.mean(episode_rewards(run)[:100]), rel=1e-12)
    games = [BREAKOUT, INVADERS]
    numbers = results["score_at"]["tiny"][1000]
    for arm in ("ppo", "ppog"):
        point, (low, high), n = numbers["iqm"][arm]
        assert n == 6 and point == pytest.approx(hand_iqm(at, "tiny", arm, games), rel=1e-9) and low <= point <= high
    point, _ = numbers["probability_of_improvement"]["ppog,ppo"]
    assert point == pytest.approx(hand_improvement(at, "tiny", "ppog", "ppo", games), abs=1e-12)
    assert results["iqm"]["tiny"]["ppo"][0] == pytest.approx(hand_iqm(final, "tiny", "ppo", games), rel=1e-9)
    text = (tmp_path / "out" / "report.md").read_text()
    assert "### Setting `tiny` at 1000 agent steps" in text and "IQM of normalized score at 1000 steps" in text


@pytest.mark.parametrize("score_at", [[], [0], [512], [300, 200], [100, 100], ["100"], 100], ids=lambda v: repr(v))
def test_score_at_is_checked(tmp_path, score_at):
    """Budgets must be distinct increasing integers inside a run (n_timesteps 512): the error names the key and the
    allowed values. Catches a budget at or past the run's end (it would be the final score under another name)."""
    with pytest.raises(StudyError, match=r"settings\.tiny: score_at=.* must be a non-empty increasing list .*\[1, 512\)"):
        load_study(write_study(tmp_path, settings={"tiny": {**ARMS, "score_at": score_at}}))


def _games_study(tmp_path: Path, keep) -> tuple[Study, Path]:
    """Three games at ``zoo`` (ppo, ppog; the ablation ppog_clip on two), two at ``course``; 4 seeds."""
    settings = {
        "zoo": {**ARMS, "ppog_clip": {**ARMS["ppog"], "params": {"policy_loss": "clip"}, "games": [BREAKOUT, INVADERS]}},
        "course": {"games": [BREAKOUT, INVADERS], **ARMS},
    }
    reference = {"setting": "zoo", "arm": "ppo"}
    return finished(tmp_path, keep, seeds=[1, 2, 3, 4], games=[BREAKOUT, INVADERS, ASTERIX], settings=settings,
                    reference_arm=reference)  # fmt: skip


@pytest.mark.parametrize("phase", ["no runs", "ppo only", "both"])
def test_games_per_setting_in_the_report(tmp_path, phase):
    """A study whose new game (Asterix, at ``zoo`` only) is still training: with no finished run of it the report
    says so and covers the rest; with runs of one arm only, ``zoo`` waits for the other and says so; with both, ``zoo``
    covers three games, the ablation (two games) its own two, each P(X > Y) the games both arms play, and ``course``
    keeps its two. Catches one list of games for every setting (``course`` would lose its statistics, an arm its
    seeds), the arm's games ignored, and a crash on a game with no run."""
    asterix = {"no runs": set(), "ppo only": {"ppo"}, "both": {"ppo", "ppog"}}[phase]
    study, root = _games_study(tmp_path, lambda run: run.game != ASTERIX or run.arm.name in asterix)
    results = report(study, root, tmp_path / "out", reps=50, echo=False)
    text = (tmp_path / "out" / "report.md").read_text()
    normalized = hand_normalized(study, root)
    two, three = [BREAKOUT, INVADERS], [BREAKOUT, INVADERS, ASTERIX]
    zoo_games = three if phase == "both" else two
    assert results["games"]["course"] == {"ppo": two, "ppog": two}
    expected = {"ppo": zoo_games, "ppog": zoo_games, "ppog_clip": two}
    assert results["games"]["zoo"] == expected
    for setting, arm in (("zoo", "ppo"), ("zoo", "ppog"), ("zoo", "ppog_clip"), ("course", "ppo"), ("course", "ppog")):
        point, _, n = results["iqm"][setting][arm]
        assert n == 4 and point == pytest.approx(hand_iqm(normalized, setting, arm, results["games"][setting][arm]))
    zoo_pairs = results["probability_of_improvement"]["zoo"]
    assert zoo_pairs["ppog,ppo"][0] == pytest.approx(hand_improvement(normalized, "zoo", "ppog", "ppo", zoo_games))
    assert zoo_pairs["ppog_clip,ppo"][0] == pytest.approx(hand_improvement(normalized, "zoo", "ppog_clip", "ppo", two))
    assert ("| zoo | ppo | 12 / 12 |" if asterix else "| zoo | ppo | 8 / 12 |") in text
    assert "| course | ppog | 8 / 8 |" in text
    waiting = "Not yet (no finished run of every arm playing it): MinAtar/Asterix-v1."
    if phase == "no runs":
        assert "Games: MinAtar/Breakout-v1, MinAtar/SpaceInvaders-v1. No finished run yet: MinAtar/Asterix-v1." in text
        assert waiting not in text and "\nGames:" not in text and "plays" not in text  # nothing else differs
    else:
        assert "No finished run yet" not in text and f"Games: {', '.join(three)}." in text
        assert text.count("\nGames: MinAtar/Breakout-v1, MinAtar/SpaceInvaders-v1.") == (1 if phase == "both" else 2)
        assert (waiting in text) == (phase == "ppo only")
        plays = "ppog_clip plays MinAtar/Breakout-v1, MinAtar/SpaceInvaders-v1 only"
        assert (plays in text) == (phase == "both")
        per_game = next(line for line in text.splitlines() if line.startswith("| ppog,ppo |"))
        assert ("Asterix-v1" in per_game) == (phase == "both")
    assert (tmp_path / "out" / "curves_zoo.png").stat().st_size > 0 and (tmp_path / "out" / "curves_course.png").is_file()


def _copy_runs(runs, source: Path, target: Path) -> None:
    for run in runs:
        marker = marker_path(target, run)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_bytes(marker_path(source, run).read_bytes())
        shutil.copytree(zoo_run_dir(source, run), zoo_run_dir(target, run))


def test_a_report_needs_a_finished_run_of_the_reference_arm(tmp_path):
    """Committed MinAtar runs: PPOG's alone cannot be normalized (refused, naming the reference arm, no files
    written); with one PPO run added, the report covers exactly the finished runs."""
    study, source, root = (
        load_study(REPO / "zoo_configs" / "minatar" / "study.yml"),
        REPO / "results" / "logs" / "minatar",
        tmp_path / "logs",
    )
    root.mkdir()
    shutil.copy(source / "random_scores.csv", root / "random_scores.csv")
    two = [BREAKOUT, INVADERS]  # the games with committed runs
    _copy_runs(study.runs(settings=["zoo"], arms=["ppog"], seeds=[1], games=two), source, root)
    with pytest.raises(StudyError, match="no finished run of the reference arm zoo/ppo in .* yet"):
        report(study, root, tmp_path / "out", reps=20, echo=False)
    assert not (tmp_path / "out").exists()

    _copy_runs(study.runs(settings=["zoo"], arms=["ppo"], seeds=[1], games=two), source, root)
    results = report(study, root, tmp_path / "out", reps=20, echo=False)
    assert {arm: n for arm, (_, _, n) in results["iqm"]["zoo"].items()} == {"ppo": 1, "ppog": 1}
    scores = pd.read_csv(tmp_path / "out" / "final_scores.csv")
    assert len(scores) == 4 and np.allclose(scores[scores["arm"] == "ppo"]["normalized"], 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["minatar", "space_invaders"])
def test_the_committed_reports_regenerate(tmp_path, name):
    """``results/report_<name>/`` is what ``ppog-zoo study report`` makes of the committed logs and study file, byte
    for byte (report.md and final_scores.csv). Catches a change of the reading or statistics that moves a committed
    number, and a committed report left stale after its study file or logs changed."""
    from ppog_sb3.experiments.study.command import main

    study, logs, committed = (
        REPO / "zoo_configs" / name / "study.yml",
        REPO / "results" / "logs" / name,
        REPO / "results" / f"report_{name}",
    )
    assert main(["report", str(study), "-f", str(logs), "-o", str(tmp_path)]) == 0
    for file in ("report.md", "final_scores.csv"):
        assert (tmp_path / file).read_bytes() == (committed / file).read_bytes(), (
            f"{committed / file} is not what the committed logs give: regenerate it with "
            f"ppog-zoo study report {study.relative_to(REPO)} -f {logs.relative_to(REPO)} -o {committed.relative_to(REPO)}"
        )


def _cells(line: str) -> list[str]:
    """The cells of a markdown table row."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _report_numbers(report_md: str, heading: str) -> tuple[dict[str, str], str]:
    """From a committed report.md's section ``heading`` (up to the next heading): each arm's IQM cell
    (``0.997 [0.963, 1.026]``) and the ``ppog,ppo`` row's P(X > Y) cell."""
    lines = report_md[report_md.index(heading + "\n") + len(heading) + 1 :].splitlines()
    iqm = {}
    probability = ""
    for line in itertools.takewhile(lambda line: not line.startswith("#"), lines):
        cells = _cells(line)
        if len(cells) == 3 and cells[0] in ("ppo", "ppog") and "[" in cells[2]:
            iqm[cells[0]] = cells[2]
        if len(cells) == 3 and cells[0] == "ppog,ppo":
            probability = cells[1]
    return iqm, probability


def _two_decimals(cell: str) -> str:
    """``0.504 [0.344, 0.672]`` -> ``0.50 [0.34, 0.67]``: the README's rounding of the report's printed digits, half up
    (0.845 -> 0.85, which a float's round-half-even of 0.845 would not give)."""
    value, low, high = (
        Decimal(x).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        for x in cell.replace("[", " ").replace("]", " ").replace(",", " ").split()
    )
    return f"{value} [{low}, {high}]"


def test_the_readme_answer_table_is_the_committed_reports():
    """README, Results: "The answer so far, in one table" copies its IQMs and P(PPOG > PPO) from the committed study
    reports; every row must still be what results/report_*/report.md says. Catches a report regenerated (new runs, a
    fix of the statistics) while the README's table kept the old numbers (seen red with the stressed row's P changed
    to 0.26 [0.04, 0.54], the two-game number it once was)."""
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("**The answer so far, in one table**") : readme.index("### Does PPOG beat PPO?")]
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    rows = {cells[0]: cells for cells in map(_cells, lines)}
    sections = {
        "MinAtar `zoo`": ("minatar", "## Setting `zoo`"),
        "MinAtar `stressed`": ("minatar", "## Setting `stressed`"),
        "MinAtar `course`": ("minatar", "## Setting `course`"),
        "MinAtar `tuned`": ("minatar", "## Setting `tuned`"),
        "the same runs scored at 300k": ("minatar", "### Setting `tuned` at 300000 agent steps"),
        "ALE Space Invaders, fast path": ("space_invaders", "## Setting `zoo`"),
    }
    for label, (name, heading) in sections.items():
        [row] = [cells for key, cells in rows.items() if key.startswith(label)]
        iqm, probability = _report_numbers((REPO / "results" / f"report_{name}" / "report.md").read_text(), heading)
        assert row[2:4] == [iqm["ppo"], iqm["ppog"]] and row[4].strip("*") == _two_decimals(probability), (
            f"README answer table, row {label!r}: {row[2:5]} against the report's {iqm} and P {probability}"
        )
