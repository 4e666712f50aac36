"""``ppog-zoo study``: the study file, the resumable runner (real ppog-zoo train subprocesses) and the report."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ppog_sb3.zoo.compare.reading import env_folder_name, run_seed
from ppog_sb3.zoo.study.report import comparisons, report
from ppog_sb3.zoo.study.spec import StudyError, is_done, load_study, log_folder, marker_path, zoo_run_dir

REPO = Path(__file__).resolve().parents[1]
STUDY = REPO / "zoo_configs" / "minatar" / "study.yml"
PPOG_ONLY = {"policy_loss", "ent_coef_decay", "ent_coef_min", "vf_learning_rate"}


def test_the_issue_study_has_its_budget():
    study = load_study(STUDY)
    runs = study.runs()
    assert study.n_timesteps >= 1_000_000 and len(study.seeds) >= 5 and len(study.games) >= 2
    assert {s: sorted(a) for s, a in study.settings.items()} == {
        "zoo": ["ppo", "ppog", "ppog_clip"],
        "stressed": ["ppo", "ppog"],
        "course": ["ppo", "ppog"],
    }
    assert len(runs) == len(study.games) * len(study.seeds) * 7
    assert runs[0].setting == "zoo" and runs[-1].setting == "course"
    # seed by seed within a setting: every run of seed 1 before any of seed 2
    zoo_seeds = [r.seed for r in runs if r.setting == "zoo"]
    assert zoo_seeds == sorted(zoo_seeds)
    assert study.settings["zoo"]["ppog_clip"].params == {"policy_loss": "clip"}
    assert study.settings["course"]["ppo"].params == {"policy_loss": "clip"}
    # the default checkpoint of a run: every tenth of it, passed to each run's ppog-zoo train
    assert study.checkpoint_freq == study.n_timesteps // 10 and all(r.checkpoint_freq == study.checkpoint_freq for r in runs)


@pytest.mark.parametrize("setting", ["zoo", "stressed"])
def test_arms_of_a_setting_share_every_setting_but_ppogs_own(setting):
    """ppo.yml and ppog.yml of a setting: the same hyperparameters for every game, PPOG's own keys aside."""
    ppo = yaml.safe_load((STUDY.parent / f"{setting}_ppo.yml").read_text())
    ppog = yaml.safe_load((STUDY.parent / f"{setting}_ppog.yml").read_text())
    for game in ("MinAtar/Asterix-v1", "MinAtar/Breakout-v1", "MinAtar/Freeway-v1", "MinAtar/Seaquest-v1"):
        assert ppo[game] == {k: v for k, v in ppog[game].items() if k not in PPOG_ONLY}
        assert ppog[game]["policy_loss"] == "ppog" and ppo[game]["n_timesteps"] == 1e6
    assert ppog["MinAtar/SpaceInvaders-v1"] == ppog["MinAtar/Breakout-v1"]
    expected = {"zoo": (4, "lin_0.1"), "stressed": (10, 0.3)}[setting]
    assert (ppo[game]["n_epochs"], ppo[game]["clip_range"]) == expected


def test_course_setting_is_the_readmes_course_settings():
    course = yaml.safe_load((STUDY.parent / "course_ppog.yml").read_text())["MinAtar/Breakout-v1"]
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index("COURSE_SETTINGS = dict(") : readme.index("model = PPOG(", readme.index("COURSE_SETTINGS"))]
    settings = eval(block.split("=", 1)[1])  # the README's runnable block, the one source of the course values
    assert {k: course[k] for k in settings} == settings


def _write_study(tmp_path: Path, **changes) -> Path:
    tiny = {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1}
    for algo in ("ppo", "ppog"):
        sections = yaml.safe_load((STUDY.parent / f"zoo_{algo}.yml").read_text())
        sections = {k: {**v, **tiny} for k, v in sections.items() if k.startswith("MinAtar/")}
        (tmp_path / f"{algo}.yml").write_text(yaml.safe_dump(sections))
    study = {
        "n_timesteps": 512,
        "seeds": [1, 2],
        "games": ["MinAtar/Breakout-v1", "MinAtar/SpaceInvaders-v1"],
        "settings": {"tiny": {"ppo": {"algo": "ppo", "conf": "ppo.yml"}, "ppog": {"algo": "ppog", "conf": "ppog.yml"}}},
        "reference_arm": {"setting": "tiny", "arm": "ppo"},
        **changes,
    }
    path = tmp_path / "study.yml"
    path.write_text(yaml.safe_dump(study))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seeds": [1, 1]}, "seeds=\\[1, 1\\] must be distinct integers"),
        ({"n_timesteps": "many"}, "n_timesteps='many' must be int"),
        ({"settings": {"tiny": {"ppo": {"algo": "ppo", "conf": "missing.yml"}}}}, "conf .*missing.yml' does not exist"),
        ({"reference_arm": {"setting": "tiny", "arm": "a2c"}}, "reference_arm=.* must name a setting and one of its arms"),
        ({"order": ["tiny", "other"]}, "order=.* must list each setting once"),
        ({"checkpoint_freq": -1}, "checkpoint_freq=-1 must be an integer >= 0"),
        ({"checkpoint_freq": "often"}, "checkpoint_freq='often' must be an integer >= 0"),
    ],
)
def test_bad_study_files_are_refused_with_the_key(tmp_path, changes, message):
    with pytest.raises(StudyError, match=message):
        load_study(_write_study(tmp_path, **changes))


def test_filters_name_what_exists(tmp_path):
    study = load_study(_write_study(tmp_path))
    assert [r.key for r in study.runs(arms=["ppog"], seeds=[2], games=["MinAtar/Breakout-v1"])] == [
        "tiny/ppog/MinAtar/Breakout-v1/seed 2"
    ]
    with pytest.raises(StudyError, match="--arms: \\['a2c'\\] not in the study; allowed: \\['ppo', 'ppog'\\]"):
        study.runs(arms=["a2c"])


def test_comparisons():
    assert comparisons(["ppo", "ppog", "ppog_clip"]) == [("ppog", "ppo"), ("ppog", "ppog_clip"), ("ppog_clip", "ppo")]
    assert comparisons(["a", "b", "c"]) == [("a", "b"), ("a", "c"), ("b", "c")]


def _study(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "ppog_sb3.zoo", "study", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _hand_iqm(values: np.ndarray) -> float:
    """Interquartile mean by hand: the mean of the middle half of the sorted values (n divisible by 4 here)."""
    ordered = np.sort(values.ravel())
    quarter = len(ordered) // 4
    return float(ordered[quarter : len(ordered) - quarter].mean())


def _hand_improvement(x: pd.DataFrame, y: pd.DataFrame) -> float:
    """P(X > Y): per game, the fraction of (x, y) run pairs with x > y (ties count 1/2), averaged over games."""
    probabilities = []
    for game in x.columns:
        wins = [(a > b) + 0.5 * (a == b) for a in x[game] for b in y[game]]
        probabilities.append(np.mean(wins))
    return float(np.mean(probabilities))


@pytest.mark.slow
def test_run_resume_report(tmp_path):
    """8 real runs; a rerun trains nothing; a run without its marker is trained again (and only it); the report's
    numbers equal a hand computation from its own final_scores.csv."""
    study_file, root = _write_study(tmp_path), tmp_path / "logs"
    first = _study("run", str(study_file), "-f", str(root), "--workers", "2")
    study = load_study(study_file)
    runs = study.runs()
    assert len(runs) == 8 and all(is_done(root, r) for r in runs), first.stdout
    record = yaml.safe_load(marker_path(root, runs[0]).read_text())
    assert record["seed"] == 1 and record["n_timesteps"] == 512 and record["machine"]
    assert run_seed(zoo_run_dir(root, runs[0])) == 1  # the zoo's own args.yml
    assert "- MinAtar/Breakout-v1" in (zoo_run_dir(root, runs[0]) / "MinAtar-Breakout-v1" / "args.yml").read_text()

    assert "8 of 8 runs done; 0 to train" in _study("run", str(study_file), "-f", str(root)).stdout
    victim = runs[5]
    marker_path(root, victim).unlink()
    monitor = zoo_run_dir(root, victim) / "0.monitor.csv"
    before = monitor.stat().st_mtime_ns
    dry = _study("run", str(study_file), "-f", str(root), "--dry-run").stdout
    assert dry.count("ppog_sb3.zoo train") == 1 and f"--seed {victim.seed}" in dry
    again = _study("run", str(study_file), "-f", str(root))
    assert "7 of 8 runs done; 1 to train" in again.stdout and is_done(root, victim)
    assert monitor.stat().st_mtime_ns != before
    run_dir = zoo_run_dir(root, victim)
    assert list(run_dir.parent.glob(run_dir.name.rsplit("_", 1)[0] + "_*")) == [run_dir]  # replaced, not a second run

    _study("random", str(study_file), "-f", str(root), "--episodes", "20")
    out = tmp_path / "report"
    printed = _study("report", str(study_file), "-f", str(root), "-o", str(out), "--reps", "200").stdout
    for name in ("report.md", "final_scores.csv", "aggregate.png", "probability_of_improvement.png",
                 "performance_profiles.png", "curves_tiny.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    assert "| tiny | ppog | 4 / 4 |" in printed

    state = np.random.get_state()
    results = report(study, root, tmp_path / "again", last=100, reps=200)
    assert (tmp_path / "again" / "report.md").read_text() == (out / "report.md").read_text()  # seeded bootstrap
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state()[1:3], state[1:3]))  # caller's RNG kept
    scores = pd.read_csv(out / "final_scores.csv")
    reference = scores[scores["arm"] == "ppo"].groupby("game")["normalized"].mean()
    assert np.allclose(reference.to_numpy(), 1.0)  # the reference arm is 1 on average, by definition
    table = {arm: frame.pivot(index="seed", columns="game", values="normalized") for arm, frame in scores.groupby("arm")}
    for arm in ("ppo", "ppog"):
        point, (low, high), n = results["iqm"]["tiny"][arm]
        assert n == 2 and point == pytest.approx(_hand_iqm(table[arm].to_numpy())) and low <= point <= high
    point, (low, high) = results["probability_of_improvement"]["tiny"]["ppog,ppo"]
    assert point == pytest.approx(_hand_improvement(table["ppog"], table["ppo"])) and low <= point <= high


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--workers", "0"], "--workers=0 must be >= 1"),
        (["run", "--games", "MinAtar/Pong-v1"], "--games: \\['MinAtar/Pong-v1'\\] are not registered gymnasium ids"),
        (["report", "-o", "out", "--reps", "0"], "--last=100 and --reps=0 must be >= 1"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path, capsys, args, message):
    from ppog_sb3.zoo.study.command import main

    command, *rest = args
    with pytest.raises(SystemExit) as exit_info:
        main([command, str(_write_study(tmp_path)), "-f", str(tmp_path / "logs"), *rest])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_random_scores_of_some_games_keep_the_others(tmp_path):
    from ppog_sb3.zoo.study.command import main

    study, root = str(_write_study(tmp_path)), tmp_path / "logs"
    assert main(["random", study, "-f", str(root), "--episodes", "3"]) == 0
    first = pd.read_csv(root / "random_scores.csv")
    assert main(["random", study, "-f", str(root), "--episodes", "5", "--games", "MinAtar/Breakout-v1"]) == 0
    second = pd.read_csv(root / "random_scores.csv").set_index("game")
    assert sorted(second.index) == sorted(first["game"]) and second.loc["MinAtar/Breakout-v1", "episodes"] == 5
    assert second.loc["MinAtar/SpaceInvaders-v1", "episodes"] == 3


def test_space_invaders_study_and_its_random_scores():
    """The ALE study: 3 seeds x 1M of each algorithm; the random policy's score is a full game's, not a life's."""
    from ppog_sb3.zoo.study.runner import random_scores

    study = load_study(REPO / "zoo_configs" / "space_invaders" / "study.yml")
    assert study.n_timesteps >= 1_000_000 and len(study.seeds) >= 3 and len(study.runs()) == 2 * len(study.seeds)
    assert study.settings["zoo"]["ppog"].params == {"precision": "fp32"}
    (row,) = random_scores(["ppog/SpaceInvaders-v5"], episodes=2, seed=0)
    # a full random game of Space Invaders lasts hundreds of agent steps over 3 lives and scores ~150 points
    assert row["steps"] > 2 * 300 and row["mean"] > 50


def test_code_version_is_this_checkouts_commit():
    from ppog_sb3.zoo.provenance import code_version

    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    tracked = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "ppog_sb3"], capture_output=True, text=True)
    assert code_version() == head + ("+dirty" if tracked.stdout.strip() else "")


def test_a_run_locked_by_another_process_is_skipped(tmp_path, capsys):
    """A second `study run` on the same folder, or the orphaned training process of a killed runner, holds the
    run's flock: this runner leaves the run alone instead of deleting its folder under it."""
    import fcntl
    import os

    from ppog_sb3.zoo.study.runner import execute, run_study

    study = load_study(_write_study(tmp_path))
    root = tmp_path / "logs"
    run = study.runs()[0]
    lock_path = log_folder(root, run) / f"{env_folder_name(run.game)}.lock"
    lock_path.parent.mkdir(parents=True)
    holder = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert execute(run, root) is None
        assert run_study(study, root, [run], workers=1) == 0
    finally:
        os.close(holder)
    printed = capsys.readouterr().out
    assert f"skipped {run.key}: another process is training it" in printed and "1 skipped" in printed
    assert not zoo_run_dir(root, run).exists() and not is_done(root, run)


def _copy_runs(runs, source: Path, target: Path) -> None:
    for run in runs:
        marker = marker_path(target, run)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_bytes(marker_path(source, run).read_bytes())
        shutil.copytree(zoo_run_dir(source, run), zoo_run_dir(target, run))


def test_a_report_needs_a_finished_run_of_the_reference_arm(tmp_path):
    """Committed MinAtar runs: PPOG's alone cannot be normalized (refused, naming the reference arm, no files
    written); with one PPO run added, the report covers exactly the finished runs."""
    study, source, root = load_study(STUDY), REPO / "results" / "logs" / "minatar", tmp_path / "logs"
    root.mkdir()
    shutil.copy(source / "random_scores.csv", root / "random_scores.csv")
    _copy_runs(study.runs(settings=["zoo"], arms=["ppog"], seeds=[1]), source, root)
    with pytest.raises(StudyError, match="no finished run of the reference arm zoo/ppo in .* yet"):
        report(study, root, tmp_path / "out", reps=20, echo=False)
    assert not (tmp_path / "out").exists()

    _copy_runs(study.runs(settings=["zoo"], arms=["ppo"], seeds=[1]), source, root)
    results = report(study, root, tmp_path / "out", reps=20, echo=False)
    assert {arm: n for arm, (_, _, n) in results["iqm"]["zoo"].items()} == {"ppo": 1, "ppog": 1}
    scores = pd.read_csv(tmp_path / "out" / "final_scores.csv")
    assert len(scores) == 4 and np.allclose(scores[scores["arm"] == "ppo"]["normalized"], 1.0)
