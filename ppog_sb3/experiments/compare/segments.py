"""The training segments of a run folder: one row per training process of a run that was checkpointed and resumed
(``ppog-zoo train --checkpoint-freq N`` then ``--resume``, :mod:`ppog_sb3.zoo.restart_resume`), so that the machine
time of a long run can be read per segment.

Read from the run's own files, nothing else:

- ``progress.csv``: SB3's ``time/time_elapsed`` restarts at 0 in every process (SB3 sets its start time in each
  ``learn`` call), so a row whose ``time/time_elapsed`` is below the previous row's starts a segment. A resume
  truncates ``progress.csv`` to the rows of its checkpoint, so a segment's rows end at the checkpoint it was resumed
  from: its ``train_s`` (the last ``time/time_elapsed``, whole seconds) is the training time that was kept, not the
  work past the checkpoint that the resume threw away.
- ``resumes.csv``: the step at which each later segment started, with its machine and code; ``run_start.yml`` the
  first segment's machine and code (``-`` in the table for a run started by a ``ppog-zoo`` older than that file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ppog_sb3.common.run_files import read_resumes, read_run_start
from ppog_sb3.experiments.compare.reading import STEPS_COLUMN, find_progress_file, read_progress

ELAPSED_COLUMN = "time/time_elapsed"
SEGMENT_COLUMNS = ["run", "segment", "from_steps", "to_steps", "train_s", "steps_per_s", "machine", "code"]


def run_segments(run_dir: str | Path) -> pd.DataFrame:
    """One row per training segment of a run folder (module docstring), columns :data:`SEGMENT_COLUMNS`:
    ``segment`` 1, 2, ...; ``from_steps`` / ``to_steps`` the agent steps at its start and at its last kept
    ``progress.csv`` row; ``train_s`` its kept training seconds; ``steps_per_s`` = steps / seconds (NaN for 0 s).
    Empty table for a folder without ``progress.csv`` rows.

    Raises ``ValueError`` when ``resumes.csv`` and ``progress.csv`` disagree (a resume whose step is not where a
    segment of ``progress.csv`` starts): the files were edited or mixed from two runs."""
    run_dir = Path(run_dir)
    path = find_progress_file(run_dir)
    table = read_progress(path) if path is not None else pd.DataFrame()
    if table.empty or not {STEPS_COLUMN, ELAPSED_COLUMN} <= set(table.columns):
        return pd.DataFrame(columns=SEGMENT_COLUMNS)
    table = table[[STEPS_COLUMN, ELAPSED_COLUMN]].dropna()
    steps = table[STEPS_COLUMN].to_numpy(dtype=np.int64)
    elapsed = table[ELAPSED_COLUMN].to_numpy(dtype=float)
    starts = [0, *(np.flatnonzero(np.diff(elapsed) < 0) + 1).tolist()]
    ends = [*starts[1:], len(steps)]
    resumes = read_resumes(run_dir)
    if len(resumes) != len(starts) - 1:
        raise ValueError(
            f"{run_dir}: progress.csv has {len(starts)} segment(s) but resumes.csv records {len(resumes)} resume(s)"
        )
    first_segment = read_run_start(run_dir)
    machines = [first_segment.get("machine", "-"), *(r["machine"] for r in resumes)]
    codes = [first_segment.get("code", "-"), *(r["code"] for r in resumes)]
    rows = []
    for k, (start, end) in enumerate(zip(starts, ends)):
        first = 0 if k == 0 else int(resumes[k - 1]["num_timesteps"])
        if k > 0 and first != steps[start - 1]:
            raise ValueError(
                f"{run_dir}: resume {k} of resumes.csv starts at step {first}, but progress.csv's segment {k + 1} "
                f"follows a row at step {int(steps[start - 1])}"
            )
        seconds = float(elapsed[end - 1])
        done = int(steps[end - 1])
        rows.append(
            {
                "run": run_dir.name,
                "segment": k + 1,
                "from_steps": first,
                "to_steps": done,
                "train_s": seconds,
                "steps_per_s": (done - first) / seconds if seconds > 0 else float("nan"),
                "machine": machines[k],
                "code": codes[k],
            }
        )
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


def segments_markdown(segments: pd.DataFrame) -> str:
    """A :func:`run_segments` table (one run or several, with ``algo`` if present) as markdown, with a total row per
    run (steps, seconds, mean speed)."""
    header = ["run", "segment", "agent steps", "training time", "env-steps/s", "machine", "code"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    label_columns = ["algo", "run"] if "algo" in segments.columns else ["run"]
    for _, frame in segments.groupby(label_columns, sort=False):
        label = "/".join(str(frame[c].iloc[0]) for c in label_columns)
        for _, row in frame.iterrows():
            lines.append(
                "| "
                + " | ".join(
                    [
                        label,
                        str(row["segment"]),
                        f"{int(row['from_steps']):,} to {int(row['to_steps']):,}",
                        _hours(row["train_s"]),
                        "-" if np.isnan(row["steps_per_s"]) else f"{row['steps_per_s']:.0f}",
                        str(row["machine"]),
                        str(row["code"])[:12],
                    ]
                )
                + " |"
            )
        total_s = float(frame["train_s"].sum())
        total_steps = int(frame["to_steps"].iloc[-1])
        speed = f"{total_steps / total_s:.0f}" if total_s > 0 else "-"
        lines.append(f"| {label} | all | {total_steps:,} | {_hours(total_s)} | {speed} | | |")
    return "\n".join(lines)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h ({seconds:,.0f} s)"
