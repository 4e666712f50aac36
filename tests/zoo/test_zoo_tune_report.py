"""``ppog-zoo tune-report``: the trials, machine hours and best trials of Optuna searches, read from their storages.

A study with hand-set trials (start and end times, states, a heartbeat written straight into Optuna's table) checks
the numbers against values computed by hand; the real CLI, in a subprocess, reads the committed searches of issue 25
(``results/tuning``) and is checked against SQL counts of the same files.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
import subprocess
import time
import warnings

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial
from zoo_helpers import REPO, zoo_command, zoo_env

from ppog_sb3.zoo.errors import ZooError
from ppog_sb3.zoo.optuna_study import STUDY_ALGO_ATTR, STUDY_ENV_ATTR
from ppog_sb3.zoo.tuning_report import read_searches, storage_urls, write_tuning_report

T0 = dt.datetime(2026, 12, 3, 10, 0, 0)
LR = {"learning_rate": FloatDistribution(1e-5, 1e-2, log=True)}


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def add(study: optuna.Study, state: TrialState, start: float, end: float | None, value: float | None = None) -> None:
    trial = create_trial(
        state=state,
        value=value,
        params={"learning_rate": 3e-4} if state != TrialState.WAITING else None,
        distributions=LR if state != TrialState.WAITING else None,
        intermediate_values={step: (value or 0.0) for step in (1, 2)} if state == TrialState.PRUNED else None,
    )
    trial.datetime_start = at(start) if start is not None else None
    trial.datetime_complete = at(end) if end is not None else None
    study.add_trial(trial)


def write_heartbeat(db, study_name: str, number: int, local_time: dt.datetime) -> None:
    """A heartbeat as Optuna's SQLite storage keeps it: CURRENT_TIMESTAMP, i.e. UTC."""
    utc = local_time.astimezone(dt.timezone.utc).replace(tzinfo=None)
    with sqlite3.connect(db) as connection:
        (trial_id,) = connection.execute(
            "SELECT t.trial_id FROM trials t JOIN studies s ON s.study_id = t.study_id "
            "WHERE s.study_name = ? AND t.number = ?",
            (study_name, number),
        ).fetchone()
        connection.execute("INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (?, ?)", (trial_id, utc.isoformat(" ")))


def make_hand_study(folder):
    """Trials 0-5: COMPLETE 3.0 (10 min), PRUNED 1.0 (2 min), COMPLETE 5.0 (30 min), FAIL with a heartbeat 8 min
    after its start, RUNNING with a heartbeat 4 min after its start, WAITING (enqueued, never started). Times are
    local (Optuna keeps them in UTC and gives them back in the reader's local time)."""
    db = folder / "searches" / "ppog_Breakout.db"
    db.parent.mkdir(parents=True)
    study = optuna.create_study(study_name="ppog_Breakout", storage=f"sqlite:///{db}", direction="maximize")
    study.set_user_attr(STUDY_ALGO_ATTR, "ppog")
    study.set_user_attr(STUDY_ENV_ATTR, "MinAtar/Breakout-v1")
    add(study, TrialState.COMPLETE, 0, 10, 3.0)
    add(study, TrialState.PRUNED, 10, 12, 1.0)
    add(study, TrialState.COMPLETE, 12, 42, 5.0)
    add(study, TrialState.FAIL, 42, 90)  # marked FAIL 48 min after its start, when the next search started
    add(study, TrialState.RUNNING, 90, None)
    add(study, TrialState.WAITING, None, None)
    write_heartbeat(db, "ppog_Breakout", 3, at(50))
    write_heartbeat(db, "ppog_Breakout", 4, at(94))
    return db


@pytest.fixture
def hand_study(tmp_path):
    return make_hand_study(tmp_path)


def test_counts_machine_time_and_best_are_the_hand_computed_ones(hand_study, tmp_path):
    """Catches: FAIL or RUNNING trials counted toward the cap; a killed trial's time taken to its FAIL mark (48 min)
    instead of its last heartbeat (8 min), or dropped; the best taken from a PRUNED trial or by the wrong direction."""
    (search,) = write_tuning_report([str(hand_study.parent)], tmp_path / "out")
    assert (search.study, search.algo, search.env) == ("ppog_Breakout", "ppog", "MinAtar/Breakout-v1")
    assert search.count(TrialState.COMPLETE, TrialState.PRUNED) == 3
    assert [trial.machine_s for trial in search.trials] == [600.0, 120.0, 1800.0, 480.0, 240.0, 0.0]
    assert search.machine_h == pytest.approx((600 + 120 + 1800 + 480 + 240) / 3600)
    assert search.lost_h == pytest.approx((480 + 240) / 3600)
    best = search.best()
    assert (best.number, best.value) == (2, 5.0)
    assert search.best_so_far() == [(600 / 3600, 3.0), (720 / 3600, 3.0), (2520 / 3600, 5.0),
                                    (3000 / 3600, 5.0), (3240 / 3600, 5.0), (3240 / 3600, 5.0)]  # fmt: skip

    rows = list(csv.DictReader((tmp_path / "out" / "trials.csv").open()))
    assert [(row["number"], row["state"], row["machine_s"]) for row in rows] == [
        ("0", "COMPLETE", "600.0"), ("1", "PRUNED", "120.0"), ("2", "COMPLETE", "1800.0"),
        ("3", "FAIL", "480.0"), ("4", "RUNNING", "240.0"), ("5", "WAITING", "0.0"),
    ]  # fmt: skip
    assert rows[1]["value"] == "1.0" and rows[3]["value"] == "" and json.loads(rows[0]["params"]) == {"learning_rate": 3e-4}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| MinAtar/Breakout-v1 | ppog_Breakout | ppog | 6 | 2 | 1 | 1 | 1 | 3 | 0.90 | 0.20 | 5.00 | 2 |" in report
    assert "trial 2, 5.00: learning_rate=0.0003" in report
    assert (tmp_path / "out" / "best_so_far.png").stat().st_size > 10_000


def test_heartbeats_are_read_as_utc_whatever_the_local_time_zone(tmp_path, monkeypatch):
    """Catches: the heartbeat (SQLite's CURRENT_TIMESTAMP, UTC) compared with the trial's start (Optuna's, local time)
    unconverted: at UTC+5:30 the killed trial would end before it started (0 s), west of Greenwich hours late."""
    try:
        for zone in ("Asia/Kolkata", "America/Los_Angeles"):
            monkeypatch.setenv("TZ", zone)
            time.tzset()
            (search,) = read_searches(storage_urls([str(make_hand_study(tmp_path / zone.replace("/", "_")))]))
            assert [trial.machine_s for trial in search.trials[3:5]] == [480.0, 240.0], zone
    finally:
        monkeypatch.undo()
        time.tzset()


def test_minimized_study_and_a_storage_without_heartbeats(tmp_path):
    """Catches: ``best`` always the largest value; a storage without Optuna's heartbeat table crashing the report,
    or dropping the time of a trial that failed in its process, or not saying what it counted."""
    db = tmp_path / "loss.db"
    study = optuna.create_study(study_name="loss", storage=f"sqlite:///{db}", direction="minimize")
    add(study, TrialState.COMPLETE, 0, 1, 0.5)
    add(study, TrialState.COMPLETE, 1, 2, 0.2)
    add(study, TrialState.FAIL, 2, 3)
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TABLE trial_heartbeats")
    (search,) = write_tuning_report([str(db)], tmp_path / "out")
    assert (search.best().number, search.algo, search.env) == (1, "?", "?")
    # without heartbeats a FAIL trial can only have failed in its own process: its start to end (1 min) was spent
    assert search.trials[2].machine_s == 60.0 and not search.heartbeats_read
    assert (
        "No heartbeat table in the storage of loss: FAIL trials count to their end"
        in (tmp_path / "out" / "report.md").read_text()
    )


def not_a_storage(path):
    path.write_bytes(b"not sqlite at all" * 100)
    return path


def test_a_search_without_complete_trials_is_reported_and_drawn(tmp_path):
    """A search just started (only a RUNNING trial): named as such in the report, its panel drawn without a warning
    (catches matplotlib's "No artists with labels" from an empty legend, or a crash on an empty best-so-far)."""
    db = tmp_path / "new.db"
    study = optuna.create_study(study_name="ppo_SpaceInvaders", storage=f"sqlite:///{db}", direction="maximize")
    study.set_user_attr(STUDY_ENV_ATTR, "MinAtar/SpaceInvaders-v1")
    add(study, TrialState.RUNNING, 0, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (search,) = write_tuning_report([str(db)], tmp_path / "out")
    assert search.best() is None and search.best_so_far() == []
    assert (
        "- ppo_SpaceInvaders (?, MinAtar/SpaceInvaders-v1): no COMPLETE trial yet"
        in (tmp_path / "out" / "report.md").read_text()
    )
    assert (tmp_path / "out" / "best_so_far.png").stat().st_size > 5_000


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "no such file or folder"),
        (lambda p: p, "no *.db file"),
        (lambda p: not_a_storage(p / "other.db"), "not an Optuna storage"),
    ],
    ids=["missing", "empty-folder", "not-optuna"],
)
def test_bad_paths_name_the_path(tmp_path, make, message):
    """Catches: a traceback, or an empty report, for a path that holds no Optuna storage."""
    path = make(tmp_path)
    with pytest.raises(ZooError, match="no such file|no \\*\\.db|not an Optuna") as error:
        read_searches(storage_urls([str(path)]))
    assert message in str(error.value) and str(path) in str(error.value)


def sql_counts(db) -> dict[str, int]:
    with sqlite3.connect(db) as connection:
        return dict(connection.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())


def test_real_cli_on_the_committed_searches(tmp_path):
    """``ppog-zoo tune-report results/tuning`` in a subprocess: one row per committed search, its trials by state
    equal to an SQL count of its file (catches a study skipped, or trials of one study counted in another)."""
    dbs = sorted((REPO / "results" / "tuning").rglob("*.db"))
    assert len(dbs) >= 2
    out = tmp_path / "report"
    done = subprocess.run(
        zoo_command("tune-report", str(REPO / "results" / "tuning"), "-o", str(out)),
        env=zoo_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader((out / "trials.csv").open()))
    for db in dbs:
        study = db.stem
        mine = [row for row in rows if row["study"] == study]
        counted = {state: sum(1 for row in mine if row["state"] == state) for state in {row["state"] for row in mine}}
        assert counted == sql_counts(db), study
        assert f"| {study} |" in done.stdout
