"""The files a resumable run leaves in its run folder, and their readers: written by ``ppog-zoo train``
(:mod:`ppog_sb3.zoo.restart_resume`), read by it on ``--resume`` and by the study tools (:mod:`ppog_sb3.experiments`).

Here, below both, so that reading a run folder needs neither rl_zoo3 nor the zoo integration.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: The checkpoint folder inside a run folder, its description file, the run folder's record of resumes, and the
#: record of its first segment (when, on which machine, with which code it started: resumes.csv has the later ones).
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FILE = "checkpoint.yml"
RESUMES_CSV = "resumes.csv"
RUN_START_FILE = "run_start.yml"


@dataclass(frozen=True)
class Checkpoint:
    """What ``checkpoint/checkpoint.yml`` describes (see :mod:`ppog_sb3.zoo.restart_resume`)."""

    run_dir: Path
    model: str  # the zip's file name in the checkpoint folder
    num_timesteps: int
    progress_rows: int
    monitor_rows: dict[str, int]
    train_seconds: float
    resumes: int  # how many resumes came before this checkpoint
    logger_values: dict[str, float | int] = field(default_factory=dict)
    logger_excluded: dict[str, list[str]] = field(default_factory=dict)

    @property
    def model_path(self) -> Path:
        return self.run_dir / CHECKPOINT_DIR / self.model


def read_checkpoint(run_dir: str | Path) -> Checkpoint | None:
    """The run folder's checkpoint, or None when it has none (or only the pieces of one being written).

    Raises ``FileNotFoundError`` when ``checkpoint.yml`` names a model file that is not there."""
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT_DIR / CHECKPOINT_FILE
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text())
    checkpoint = Checkpoint(
        run_dir=run_dir,
        model=str(data["model"]),
        num_timesteps=int(data["num_timesteps"]),
        progress_rows=int(data["progress_rows"]),
        monitor_rows={str(k): int(v) for k, v in (data.get("monitor_rows") or {}).items()},
        train_seconds=float(data.get("train_seconds", 0.0)),
        resumes=int(data.get("resumes", 0)),
        logger_values={str(k): v for k, v in (data.get("logger_values") or {}).items() if isinstance(v, (int, float))},
        logger_excluded={str(k): [str(f) for f in v] for k, v in (data.get("logger_excluded") or {}).items()},
    )
    if not checkpoint.model_path.is_file():
        raise FileNotFoundError(f"{path} names {checkpoint.model}, which is not in {path.parent}")
    return checkpoint


def read_resumes(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of a run folder's ``resumes.csv`` (empty for a run that never resumed)."""
    path = Path(run_dir) / RESUMES_CSV
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [
            {
                "num_timesteps": int(row["num_timesteps"]),
                "train_seconds_before": float(row["train_seconds_before"]),
                "machine": row.get("machine", ""),
                "code": row.get("code", ""),
            }
            for row in csv.DictReader(handle)
        ]


def read_run_start(run_dir: str | Path) -> dict[str, str]:
    """The run folder's ``run_start.yml`` (``started``, ``machine``, ``code`` of its first training segment), or {}
    for a run without one (not checkpointed, or started by a ``ppog-zoo`` older than the file)."""
    path = Path(run_dir) / RUN_START_FILE
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    return {str(key): str(value) for key, value in data.items()} if isinstance(data, dict) else {}
