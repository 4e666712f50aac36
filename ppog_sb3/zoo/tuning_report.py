"""``ppog-zoo tune-report``: what a set of Optuna searches cost and found, from their storages alone.

``ppog-zoo tune-report PATH... -o OUT`` reads every study of every storage given (a ``sqlite:///`` or other RDB URL,
an SQLite ``.db`` file, or a folder searched for ``*.db`` files, e.g. ``results/tuning``) and writes to ``OUT``:

- ``trials.csv``: one row per trial (study, algo, env, number, state, value, start, end, machine seconds, the
  evaluations it reported, its parameters as JSON);
- ``report.md`` (also printed): per study the trials by state, how many count toward ``--max-total-trials``
  (COMPLETE + PRUNED, the cap of :mod:`ppog_sb3.zoo.optuna_study`), the machine time, the best trial and its
  parameters; the studies grouped by env, so two arms' searches on one game sit side by side; the total budget;
- ``best_so_far.png``: the best value so far against the machine hours spent, one panel per env, one line per study.

Machine time: a trial's wall time from its start to its end (COMPLETE, PRUNED, and FAIL from an error in its own
process), and for a trial that was killed (FAIL for want of heartbeats) or is still RUNNING, to its last heartbeat:
the time its worker spent before it was lost, which the sum counts as spent. Decision: heartbeats are read from
Optuna's ``trial_heartbeats`` table with one SQL query (Optuna has no public call for them); where a storage has no
such table (or a trial no heartbeat), a killed trial cannot be told from one that failed in its process (FAIL counts
to its end) and a RUNNING one counts 0; the report says so. Optuna keeps its trials' times in UTC and gives them
back in the reader's local time; a heartbeat is the database's own ``now()``, UTC in SQLite (and in a server set to
UTC): it is read as UTC and converted the same way, and a trial's lost time is kept within its own start and end. A
search with one torch thread per trial (``make tune``) spends one core for that time, so the sum is in core-hours;
wall time also holds any time the machine was suspended, which no storage records.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from ppog_sb3.zoo.errors import ZooError
from ppog_sb3.zoo.optuna_study import STUDY_ALGO_ATTR, STUDY_ENV_ATTR, redact_url

#: states that count toward --max-total-trials (ppog_sb3.zoo.optuna_study.check_total_trials_cap)
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
CSV_COLUMNS = (
    "study", "algo", "env", "number", "state", "value", "start", "end", "machine_s", "evaluations", "params",
)  # fmt: skip


@dataclass
class TrialRow:
    number: int
    state: str
    value: float | None
    start: dt.datetime | None
    end: dt.datetime | None  # COMPLETE/PRUNED: its end; FAIL/RUNNING: its last heartbeat (None: none recorded)
    evaluations: int
    params: dict[str, Any]

    @property
    def machine_s(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return max(0.0, (self.end - self.start).total_seconds())


@dataclass
class SearchSummary:
    storage: str
    study: str
    algo: str
    env: str
    direction: str
    trials: list[TrialRow] = field(default_factory=list)
    heartbeats_read: bool = True

    def count(self, *states: TrialState) -> int:
        names = {state.name for state in states}
        return sum(1 for trial in self.trials if trial.state in names)

    @property
    def machine_h(self) -> float:
        return sum(trial.machine_s for trial in self.trials) / 3600

    @property
    def lost_h(self) -> float:
        return sum(trial.machine_s for trial in self.trials if trial.state not in ("COMPLETE", "PRUNED")) / 3600

    def best(self) -> TrialRow | None:
        done = [trial for trial in self.trials if trial.state == "COMPLETE" and trial.value is not None]
        if not done:
            return None
        pick = max if self.direction == "MAXIMIZE" else min
        return pick(done, key=lambda trial: (trial.value, -trial.number))

    def best_so_far(self) -> list[tuple[float, float]]:
        """(machine hours spent, best COMPLETE value so far) after each trial, in the order the trials started."""
        points, spent, best = [], 0.0, None
        better = (lambda a, b: a > b) if self.direction == "MAXIMIZE" else (lambda a, b: a < b)
        for trial in sorted(self.trials, key=lambda t: (t.start or dt.datetime.max, t.number)):
            spent += trial.machine_s
            if trial.state == "COMPLETE" and trial.value is not None and (best is None or better(trial.value, best)):
                best = trial.value
            if best is not None:
                points.append((spent / 3600, best))
        return points


def storage_urls(paths: Sequence[str]) -> list[str]:
    """RDB URLs from the command line's paths: URLs as given, ``.db`` files, folders searched for ``*.db``."""
    urls = []
    for given in paths:
        if "://" in given:
            urls.append(given)
            continue
        path = Path(given)
        if path.is_dir():
            found = sorted(path.rglob("*.db"))
            if not found:
                raise ZooError(f"{given}: no *.db file (an Optuna SQLite storage) in this folder or below")
            urls += [f"sqlite:///{db}" for db in found]
        elif path.is_file():
            urls.append(f"sqlite:///{path}")
        else:
            raise ZooError(f"{given}: no such file or folder (give a storage URL, an SQLite .db file or a folder)")
    return urls


def read_heartbeats(url: str) -> dict[tuple[str, int], dt.datetime] | None:
    """Last heartbeat per (study name, trial number), in local time; None if the storage has no heartbeat table."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    query = sqlalchemy.text(
        "SELECT s.study_name, t.number, h.heartbeat FROM trial_heartbeats h "
        "JOIN trials t ON t.trial_id = h.trial_id JOIN studies s ON s.study_id = t.study_id"
    )
    try:
        with engine.connect() as connection:
            rows = connection.execute(query).all()
    except sqlalchemy.exc.DatabaseError:
        return None
    finally:
        engine.dispose()
    heartbeats = {}
    for study_name, number, beat in rows:
        if isinstance(beat, str):
            beat = dt.datetime.fromisoformat(beat)
        # the database's now(): UTC, as Optuna's own times, which FrozenTrial gives in local time
        beat = beat.replace(tzinfo=dt.timezone.utc).astimezone().replace(tzinfo=None)
        heartbeats[(study_name, int(number))] = beat
    return heartbeats


def trial_row(trial: FrozenTrial, heartbeat: dt.datetime | None) -> TrialRow:
    end = trial.datetime_complete
    if trial.state not in COUNTED:
        if heartbeat is not None:  # killed (FAIL) or still running: spent until its last heartbeat, never past its end
            end = heartbeat if end is None else min(heartbeat, end)
        elif trial.state != TrialState.FAIL:
            end = None  # RUNNING or WAITING with no heartbeat: nothing known
        # a FAIL without heartbeat failed in its own process (an error, or the cap): its end is real
    value = trial.values[0] if trial.state in COUNTED and trial.values else None  # PRUNED: Optuna's, its last report
    return TrialRow(
        trial.number, trial.state.name, value, trial.datetime_start, end, len(trial.intermediate_values), trial.params
    )


def read_searches(urls: Sequence[str]) -> list[SearchSummary]:
    searches = []
    for url in urls:
        try:
            storage = optuna.storages.RDBStorage(url, skip_table_creation=True)
            summaries = optuna.study.get_all_study_summaries(storage, include_best_trial=False)
        except Exception as error:  # a file that is not an Optuna storage
            raise ZooError(f"{redact_url(url)}: not an Optuna storage ({type(error).__name__})") from None
        heartbeats = read_heartbeats(url)
        for summary in summaries:
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            if len(study.directions) != 1:
                raise ZooError(f"study '{study.study_name}' has {len(study.directions)} objectives: one is reported")
            search = SearchSummary(
                storage=redact_url(url),
                study=study.study_name,
                algo=str(study.user_attrs.get(STUDY_ALGO_ATTR, "?")),
                env=str(study.user_attrs.get(STUDY_ENV_ATTR, "?")),
                direction=study.direction.name,
                heartbeats_read=heartbeats is not None,
            )
            for trial in study.get_trials(deepcopy=False):
                beat = (heartbeats or {}).get((study.study_name, trial.number))
                search.trials.append(trial_row(trial, beat))
            searches.append(search)
    if not searches:
        raise ZooError("no study in " + ", ".join(redact_url(url) for url in urls))
    return searches


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown(searches: Sequence[SearchSummary]) -> str:
    lines = ["# Hyperparameter searches", ""]
    lines += [
        "| env | study | algo | trials | COMPLETE | PRUNED | FAIL | RUNNING | counted | machine h | lost h | best | trial |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for search in sorted(searches, key=lambda s: (s.env, s.algo, s.study)):
        best = search.best()
        lines.append(
            f"| {search.env} | {search.study} | {search.algo} | {len(search.trials)} "
            f"| {search.count(TrialState.COMPLETE)} | {search.count(TrialState.PRUNED)} "
            f"| {search.count(TrialState.FAIL)} | {search.count(TrialState.RUNNING)} | {search.count(*COUNTED)} "
            f"| {fmt(search.machine_h)} | {fmt(search.lost_h)} | {fmt(best.value if best else None)} "
            f"| {best.number if best else '-'} |"
        )
    total = sum(search.machine_h for search in searches)
    lost = sum(search.lost_h for search in searches)
    lines += [
        "",
        f"Total: {sum(len(s.trials) for s in searches)} trials, {sum(s.count(*COUNTED) for s in searches)} counted "
        f"(COMPLETE + PRUNED), {fmt(total)} machine hours, of which {fmt(lost)} in trials killed or still running.",
        "",
        "Machine hours: each trial's wall time, start to end (killed or running trials: to their last heartbeat); "
        "one core per trial with one torch thread. `best`: the best COMPLETE trial's value.",
    ]
    if any(not search.heartbeats_read for search in searches):
        names = ", ".join(search.study for search in searches if not search.heartbeats_read)
        lines.append(f"No heartbeat table in the storage of {names}: FAIL trials count to their end, RUNNING ones as 0.")
    lines += ["", "## Best trials", ""]
    for search in sorted(searches, key=lambda s: (s.env, s.algo, s.study)):
        best = search.best()
        if best is None:
            lines.append(f"- {search.study} ({search.algo}, {search.env}): no COMPLETE trial yet")
            continue
        params = ", ".join(f"{key}={value}" for key, value in best.params.items())
        lines.append(f"- {search.study} ({search.algo}, {search.env}): trial {best.number}, {fmt(best.value)}: {params}")
    return "\n".join(lines) + "\n"


def write_csv(searches: Sequence[SearchSummary], path: Path) -> None:
    import csv

    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for search in searches:
            for trial in search.trials:
                writer.writerow([
                    search.study, search.algo, search.env, trial.number, trial.state,
                    "" if trial.value is None else trial.value,
                    trial.start.isoformat() if trial.start else "", trial.end.isoformat() if trial.end else "",
                    f"{trial.machine_s:.1f}", trial.evaluations, json.dumps(trial.params, sort_keys=True),
                ])  # fmt: skip


def plot_best_so_far(searches: Sequence[SearchSummary], path: Path) -> None:
    from matplotlib.figure import Figure

    from ppog_sb3.experiments.compare.plots import algo_color

    envs = sorted({search.env for search in searches})
    figure = Figure(figsize=(5 * len(envs), 3.6), layout="constrained")
    axes = figure.subplots(1, len(envs), squeeze=False)[0]
    for axis, env in zip(axes, envs, strict=True):
        for index, search in enumerate(sorted((s for s in searches if s.env == env), key=lambda s: s.study)):
            points = search.best_so_far()
            if points:
                hours, best = zip(*points, strict=True)
                axis.step(hours, best, where="post", label=search.study, color=algo_color(search.algo, index))
        axis.set(title=env, xlabel="machine hours", ylabel="best value so far")
        if axis.get_legend_handles_labels()[0]:  # a search with no COMPLETE trial yet draws nothing
            axis.legend(loc="lower right", fontsize="small")
        else:
            axis.text(0.5, 0.5, "no COMPLETE trial yet", ha="center", va="center", transform=axis.transAxes)
    figure.savefig(path, dpi=100)


def write_tuning_report(paths: Sequence[str], output: str | Path) -> list[SearchSummary]:
    searches = read_searches(storage_urls(paths))
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(searches, out / "trials.csv")
    (out / "report.md").write_text(markdown(searches))
    plot_best_so_far(searches, out / "best_so_far.png")
    return searches


def main(argv: list[str]) -> int:
    from ppog_sb3.zoo.seams import OneLineErrorParser

    parser = OneLineErrorParser(
        prog="ppog-zoo tune-report",
        description="What Optuna searches cost and found: trials.csv, report.md and best_so_far.png.",
        allow_abbrev=False,
    )
    parser.add_argument("paths", nargs="+", help="storage URLs, SQLite .db files, or folders searched for *.db")
    parser.add_argument("-o", "--output", required=True, help="folder for trials.csv, report.md, best_so_far.png")
    args: argparse.Namespace = parser.parse_args(argv)
    searches = write_tuning_report(args.paths, args.output)
    print((Path(args.output) / "report.md").read_text(), end="")
    print(f"Wrote {args.output}/trials.csv, report.md, best_so_far.png ({len(searches)} studies)")
    return 0
