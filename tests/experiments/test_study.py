"""``ppog-zoo study``: the study file (games per setting and arm), the resumable runner (real ppog-zoo train
subprocesses) and the command line. The report's statistics: test_study_report.py."""

import re
import subprocess

import pandas as pd
import pytest
import yaml
from core_only import core_python
from experiment_helpers import ASTERIX, BREAKOUT, INVADERS, REPO, write_study

from ppog_sb3.experiments.compare.reading import env_folder_name, run_seed
from ppog_sb3.experiments.study.spec import StudyError, is_done, load_study, log_folder, marker_path, zoo_run_dir

STUDY = REPO / "zoo_configs" / "minatar" / "study.yml"
PPOG_ONLY = {"policy_loss", "ent_coef_decay", "ent_coef_min", "vf_learning_rate"}
FIVE_GAMES = [BREAKOUT, INVADERS, ASTERIX, "MinAtar/Freeway-v1", "MinAtar/Seaquest-v1"]
TINY_ARMS = {"ppo": {"algo": "ppo", "conf": "ppo.yml"}, "ppog": {"algo": "ppog", "conf": "ppog.yml"}}


def test_the_issue_study_has_its_budget():
    """Issues 15 and 25: five games at the zoo and stressed settings (PPO and PPOG), the ablation and the course
    setting on Breakout and SpaceInvaders; 5 seeds x 1M steps each."""
    study = load_study(STUDY)
    runs = study.runs()
    assert study.n_timesteps >= 1_000_000 and len(study.seeds) >= 5 and list(study.games) == FIVE_GAMES
    assert {s: sorted(a) for s, a in study.settings.items()} == {
        "zoo": ["ppo", "ppog", "ppog_clip"],
        "stressed": ["ppo", "ppog"],
        "course": ["ppo", "ppog"],
        "tuned": ["ppo", "ppog"],
    }
    for setting, arm in (("zoo", "ppo"), ("zoo", "ppog"), ("stressed", "ppo"), ("stressed", "ppog")):
        assert list(study.games_of(setting, arm)) == FIVE_GAMES
    for setting, arm in (("zoo", "ppog_clip"), ("course", "ppo"), ("course", "ppog")):
        assert list(study.games_of(setting, arm)) == [BREAKOUT, INVADERS]
    untuned = [r for r in runs if r.setting != "tuned"]
    assert len(untuned) == len(study.seeds) * (4 * 5 + 3 * 2)
    assert runs[0].setting == "zoo" and untuned[-1].setting == "course" and runs[-1].setting == "tuned"
    # the 60 runs of issue 25, as the command that trains them selects them
    new = study.runs(settings=["zoo", "stressed"], arms=["ppo", "ppog"], games=FIVE_GAMES[2:])
    assert len(new) == 60 and {r.game for r in new} == set(FIVE_GAMES[2:])
    # seed by seed within a setting: every run of seed 1 before any of seed 2
    zoo_seeds = [r.seed for r in runs if r.setting == "zoo"]
    assert zoo_seeds == sorted(zoo_seeds)
    assert study.settings["zoo"]["ppog_clip"].params == {"policy_loss": "clip"}
    assert study.settings["course"]["ppo"].params == {"policy_loss": "clip"}
    # the default checkpoint of a run: every tenth of it, passed to each run's ppog-zoo train
    assert study.checkpoint_freq == study.n_timesteps // 10 and all(r.checkpoint_freq == study.checkpoint_freq for r in runs)


def test_the_tuned_setting_retrains_each_search_on_new_seeds():
    """Issue 25's fourth setting: each arm's tuned config (ppog-zoo best-config of its search) on 10 seeds that neither
    the searches (--seed 0, the Makefile's tune targets) nor the other settings used; every game of the setting has
    its section in both configs (a game without one would fail only when its run starts). Breakout only until the
    SpaceInvaders searches are done (the study file's decision). Catches: a tuned game missing from a config, seeds
    shared with the other settings or the searches, a setting missing from `order`."""
    study = load_study(STUDY)
    seeds = study.seeds_of("tuned")
    assert len(seeds) >= 10 and not set(seeds) & (set(study.seeds) | {0})
    assert "tuned" in yaml.safe_load(STUDY.read_text())["order"]
    tuned = study.runs(settings=["tuned"])
    assert len(tuned) == len(seeds) * 2 * len(study.games_of("tuned", "ppo"))
    for arm, algo in (("ppo", "ppo"), ("ppog", "ppog")):
        config = yaml.safe_load((STUDY.parent / f"tuned_{arm}.yml").read_text())
        assert study.settings["tuned"][arm].algo == algo
        assert BREAKOUT in study.games_of("tuned", arm)
        for game in study.games_of("tuned", arm):
            assert game in config, f"tuned_{arm}.yml has no section for {game}"
    assert yaml.safe_load((STUDY.parent / "tuned_ppog.yml").read_text())[BREAKOUT]["policy_loss"] == "ppog"


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
        ({"games": [BREAKOUT, BREAKOUT]}, "games=.* must be distinct gymnasium ids"),
        ({"settings": {"tiny": {"games": [ASTERIX], **TINY_ARMS}}}, "settings.tiny: games=.* must be a non-empty list of "
         "distinct games of the study: \\['MinAtar/Breakout-v1', 'MinAtar/SpaceInvaders-v1'\\]"),
        ({"settings": {"tiny": {"games": [], **TINY_ARMS}}}, "settings.tiny: games=\\[\\] must be a non-empty list"),
        ({"settings": {"tiny": {"games": {"algo": "ppo", "conf": "ppo.yml"}, **TINY_ARMS}}}, "settings.tiny: games=.*"),
        ({"settings": {"tiny": {"games": [BREAKOUT]}}}, "settings.tiny must map arm names to"),
        ({"settings": {"tiny": {"seeds": [3, 3], **TINY_ARMS}}}, "settings.tiny: seeds=\\[3, 3\\] must be distinct integers"),
        ({"settings": {"tiny": {"seeds": [], **TINY_ARMS}}}, "settings.tiny: seeds=\\[\\] must be distinct integers"),
        ({"settings": {"tiny": {"seeds": 7, **TINY_ARMS}}}, "settings.tiny: seeds=7 must be distinct integers"),
        ({"settings": {"tiny": {"games": [BREAKOUT], **TINY_ARMS, "ppog": {**TINY_ARMS["ppog"], "games": [INVADERS]}}}},
         "settings.tiny.ppog: games=.* must be a non-empty list of distinct games of settings.tiny: "
         "\\['MinAtar/Breakout-v1'\\]"),
        ({"settings": {"tiny": {**TINY_ARMS, "ppog": {**TINY_ARMS["ppog"], "game": [BREAKOUT]}}}},
         "settings.tiny.ppog: unknown key\\(s\\) \\['game'\\]; allowed: \\['algo', 'conf', 'params', 'games'\\]"),
        ({"settings": {"tiny": {**TINY_ARMS, "ppo": {**TINY_ARMS["ppo"], "games": [BREAKOUT]}}}},
         "reference_arm tiny/ppo plays \\['MinAtar/Breakout-v1'\\], but must play every game of the study"),
    ],
)  # fmt: skip
def test_bad_study_files_are_refused_with_the_key(tmp_path, changes, message):
    """Each check of the study file names the key and what is allowed; a typo (``game:``) is refused, not ignored."""
    with pytest.raises(StudyError, match=message):
        load_study(write_study(tmp_path, **changes))


def test_games_per_setting_and_arm(tmp_path):
    """A setting's ``games`` and an arm's ``games`` choose its runs (in the study's order of games, whatever order the
    file lists them in); filters cut them further. Catches runs of every game for every arm (the study before
    issue 25), a setting's games ignored, or an arm's."""
    settings = {
        "wide": {**TINY_ARMS, "ppog": {**TINY_ARMS["ppog"], "games": [ASTERIX, BREAKOUT]}},
        "narrow": {"games": [INVADERS, BREAKOUT], **TINY_ARMS},
    }
    study = load_study(write_study(tmp_path, games=[BREAKOUT, INVADERS, ASTERIX], settings=settings,
                                   reference_arm={"setting": "wide", "arm": "ppo"}))  # fmt: skip
    assert study.games_of("wide") == (BREAKOUT, INVADERS, ASTERIX) and study.games_of("wide", "ppog") == (BREAKOUT, ASTERIX)
    assert study.games_of("narrow") == study.games_of("narrow", "ppog") == (BREAKOUT, INVADERS)
    keys = [r.key.replace("MinAtar/", "") for r in study.runs(seeds=[1])]
    assert keys == [
        "wide/ppo/Breakout-v1/seed 1", "wide/ppog/Breakout-v1/seed 1", "wide/ppo/SpaceInvaders-v1/seed 1",
        "wide/ppo/Asterix-v1/seed 1", "wide/ppog/Asterix-v1/seed 1",
        "narrow/ppo/Breakout-v1/seed 1", "narrow/ppog/Breakout-v1/seed 1",
        "narrow/ppo/SpaceInvaders-v1/seed 1", "narrow/ppog/SpaceInvaders-v1/seed 1",
    ]  # fmt: skip
    assert len(study.runs()) == 2 * len(keys)
    assert [r.key for r in study.runs(games=[ASTERIX], arms=["ppog"])] == [f"wide/ppog/{ASTERIX}/seed {s}" for s in (1, 2)]
    assert study.runs(settings=["narrow"], games=[ASTERIX]) == []


def test_seeds_per_setting(tmp_path):
    """A setting's ``seeds`` replace the study's for its runs only (issue 25's ``tuned`` setting: new seeds for the
    searches' best configurations); ``--seeds`` still overrides every setting. Catches a setting's seeds ignored, or
    applied to the other settings."""
    settings = {"tiny": TINY_ARMS, "tuned": {"seeds": [11, 12, 13], "games": [BREAKOUT], **TINY_ARMS}}
    study = load_study(write_study(tmp_path, settings=settings))
    assert study.seeds_of("tiny") == study.seeds == (1, 2) and study.seeds_of("tuned") == (11, 12, 13)
    by_setting = {name: sorted({r.seed for r in study.runs(settings=[name])}) for name in settings}
    assert by_setting == {"tiny": [1, 2], "tuned": [11, 12, 13]}
    assert len(study.runs(settings=["tuned"])) == 3 * 2  # 3 seeds x 2 arms x 1 game
    assert {r.seed for r in study.runs(seeds=[5])} == {5}


def test_run_and_status_follow_the_games_of_each_setting(tmp_path, capsys):
    """``study run`` (``--dry-run``: the commands it would start) and ``study status`` list the runs of each setting's
    and arm's games, no more. Catches a command that loops over the study's games itself."""
    from ppog_sb3.experiments.study.command import main

    settings = {"wide": TINY_ARMS, "narrow": {"games": [BREAKOUT], **TINY_ARMS}}
    study_file = write_study(tmp_path, games=[BREAKOUT, INVADERS], settings=settings,
                             reference_arm={"setting": "wide", "arm": "ppo"})  # fmt: skip
    common = [str(study_file), "-f", str(tmp_path / "logs")]
    assert main(["status", *common]) == 0
    status = capsys.readouterr().out
    assert status.endswith("0 of 12 done\n") and f"todo  narrow/ppog/{BREAKOUT}/seed 2" in status
    assert f"narrow/ppo/{INVADERS}" not in status
    assert main(["run", *common, "--dry-run", "--settings", "narrow"]) == 0
    commands = [line for line in capsys.readouterr().out.splitlines() if " ppog_sb3.zoo train " in line]
    assert len(commands) == 4 and all(f"--env {BREAKOUT}" in line for line in commands)


def test_filters_name_what_exists(tmp_path):
    study = load_study(write_study(tmp_path))
    assert [r.key for r in study.runs(arms=["ppog"], seeds=[2], games=["MinAtar/Breakout-v1"])] == [
        "tiny/ppog/MinAtar/Breakout-v1/seed 2"
    ]
    with pytest.raises(StudyError, match="--arms: \\['a2c'\\] not in the study; allowed: \\['ppo', 'ppog'\\]"):
        study.runs(arms=["a2c"])
    with pytest.raises(StudyError, match=f"--games: \\['MinAtar/Pong-v1'\\] not in the study; allowed: \\['{BREAKOUT}'"):
        study.runs(games=["MinAtar/Pong-v1"])


def _study(*args: str) -> subprocess.CompletedProcess:
    """``ppog-zoo study ARGS`` as a user of ``pip install ".[study]"`` runs it (its training runs use the same Python)."""
    python = core_python(extras=("study",))
    proc = subprocess.run([python, "-m", "ppog_sb3.zoo", "study", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_run_resume_report(tmp_path):
    """8 real runs; a rerun trains nothing; a run without its marker is trained again (and only it); the report
    command reads them (its numbers: test_study_report.py, on runs whose scores are known)."""
    study_file, root = write_study(tmp_path), tmp_path / "logs"
    first = _study("run", str(study_file), "-f", str(root), "--workers", "2")
    study = load_study(study_file)
    runs = study.runs()
    assert len(runs) == 8 and all(is_done(root, r) for r in runs), first.stdout
    record = yaml.safe_load(marker_path(root, runs[0]).read_text())
    assert record["seed"] == 1 and record["n_timesteps"] == 512 and record["machine"]
    assert record["side_by_side"] == 2  # --workers, handed to each run's record as an argument
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
    scores = pd.read_csv(out / "final_scores.csv")
    assert len(scores) == 8 and set(scores["seed"]) == {1, 2} and (scores["timesteps"] <= 512).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--workers", "0"], "--workers=0 must be >= 1"),
        (["report", "-o", "out", "--reps", "0"], "--last=100 and --reps=0 must be >= 1"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path, capsys, args, message):
    from ppog_sb3.experiments.study.command import main

    command, *rest = args
    with pytest.raises(SystemExit) as exit_info:
        main([command, str(write_study(tmp_path)), "-f", str(tmp_path / "logs"), *rest])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_a_game_outside_the_study_is_refused_in_one_line(tmp_path, capsys):
    """``study run --games`` keeps a subset of the study's games (they are in the study file now)."""
    from ppog_sb3.experiments.study.command import main

    assert main(["run", str(write_study(tmp_path)), "-f", str(tmp_path / "logs"), "--games", "MinAtar/Pong-v1"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("ppog-zoo study: error: --games: ['MinAtar/Pong-v1'] not in the study; allowed:")
        and err.count("\n") == 1
    )


def test_random_scores_of_some_games_keep_the_others(tmp_path):
    from ppog_sb3.experiments.study.command import main

    study, root = str(write_study(tmp_path)), tmp_path / "logs"
    assert main(["random", study, "-f", str(root), "--episodes", "3"]) == 0
    first = pd.read_csv(root / "random_scores.csv")
    assert main(["random", study, "-f", str(root), "--episodes", "5", "--games", "MinAtar/Breakout-v1"]) == 0
    second = pd.read_csv(root / "random_scores.csv").set_index("game")
    assert sorted(second.index) == sorted(first["game"]) and second.loc["MinAtar/Breakout-v1", "episodes"] == 5
    assert second.loc["MinAtar/SpaceInvaders-v1", "episodes"] == 3


def test_space_invaders_study_and_its_random_scores():
    """The ALE study: 3 seeds x 1M of each algorithm; the random policy's score is a full game's, not a life's."""
    from ppog_sb3.experiments.study.runner import random_scores

    study = load_study(REPO / "zoo_configs" / "space_invaders" / "study.yml")
    assert study.n_timesteps >= 1_000_000 and len(study.seeds) >= 3 and len(study.runs()) == 2 * len(study.seeds)
    assert study.settings["zoo"]["ppog"].params == {"precision": "fp32"}
    (row,) = random_scores(["ppog/SpaceInvaders-v5"], episodes=2, seed=0)
    # a full random game of Space Invaders lasts hundreds of agent steps over 3 lives and scores ~150 points
    assert row["steps"] > 2 * 300 and row["mean"] > 50


def test_code_version_is_this_checkouts_commit():
    from ppog_sb3.common.provenance import code_version

    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    tracked = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "ppog_sb3"], capture_output=True, text=True)
    assert code_version() == head + ("+dirty" if tracked.stdout.strip() else "")


def test_a_run_locked_by_another_process_is_skipped(tmp_path, capsys):
    """A second `study run` on the same folder, or the orphaned training process of a killed runner, holds the
    run's flock: this runner leaves the run alone instead of deleting its folder under it."""
    import fcntl
    import os

    from ppog_sb3.experiments.study.runner import execute, run_study

    study = load_study(write_study(tmp_path))
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
