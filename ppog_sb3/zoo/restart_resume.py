"""Resumable ``ppog-zoo train`` runs with the envs restarted: ``--checkpoint-freq N`` writes a checkpoint,
``--resume`` continues from it. Not bit for bit (the C++ emulators' states are not saved; ``docs/zoo.md`` says what
continues exactly); the exact in-process resume is :mod:`ppog_sb3.common.exact_resume`.
"""

from __future__ import annotations

import csv
import glob
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from ppog_sb3.common.provenance import code_version, machine_description
from ppog_sb3.common.run_files import (  # the run folder's file names and readers, shared with ppog_sb3.experiments
    CHECKPOINT_DIR,
    CHECKPOINT_FILE,
    RESUMES_CSV,
    RUN_START_FILE,
    Checkpoint,
    read_checkpoint,
    read_resumes,
)

__all__ = [
    "CHECKPOINT_DIR", "CHECKPOINT_FILE", "RESUMES_CSV", "RUN_START_FILE",
    "Checkpoint", "ResumeCheckpointCallback", "continue_monitor_clocks",
    "prepare_resume", "read_checkpoint", "read_resumes", "resumed_seed",
]  # fmt: skip

MONITOR_PATTERN = "*.monitor.csv"
#: Seed offset per resume: the resumed env streams and sampling streams are ``seed + RESUME_SEED_STRIDE * k``.
RESUME_SEED_STRIDE = 1_000_003


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _data_rows(path: Path, header_lines: int) -> int:
    if not path.is_file():
        return 0
    with path.open() as handle:
        return max(sum(1 for _ in handle) - header_lines, 0)


def _monitor_files(run_dir: Path) -> list[Path]:
    return sorted(Path(p) for p in glob.glob(str(run_dir / MONITOR_PATTERN)))


def resumed_seed(seed: int | None, resumes: int) -> int | None:
    """The seed of the env and random streams after the ``resumes``-th resume (None stays None: unseeded)."""
    return None if seed is None else (seed + RESUME_SEED_STRIDE * resumes) % 2**32


class ResumeCheckpointCallback(BaseCallback):
    """Writes the run folder's checkpoint at the first rollout boundary after every ``every_steps`` agent steps.

    At a rollout's start the previous update is complete and the rollout buffer is empty: the model file then holds
    the whole learning state (module docstring).

    :param run_dir: the run folder (the zoo's ``save_path``)
    :param every_steps: agent steps (all envs together) between checkpoints, > 0
    :param progress_csv: the run's ``progress.csv`` (its rows are counted into the checkpoint)
    :param resumed: the checkpoint this process resumed from, if any (training seconds and resumes carry on)
    """

    def __init__(self, run_dir: str | Path, every_steps: int, progress_csv: str | Path, resumed: Checkpoint | None = None):
        super().__init__()
        if every_steps <= 0:
            raise ValueError(f"every_steps={every_steps} must be > 0")
        self.run_dir = Path(run_dir)
        self.every_steps = every_steps
        self.progress_csv = Path(progress_csv)
        self.resumed = resumed
        self._last_saved = 0
        self._started = 0.0

    def _on_training_start(self) -> None:
        self._last_saved = self.model.num_timesteps
        self._started = time.time()
        if self.resumed is None:  # the first segment's machine and code (resumes.csv records each later one's)
            record = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine_description()}
            record["code"] = code_version()
            _atomic_write_text(self.run_dir / RUN_START_FILE, yaml.safe_dump(record, sort_keys=False))
        else:
            # The update before the checkpoint recorded train/* values that SB3 writes with the next row: put them back
            for key, value in self.resumed.logger_values.items():
                excluded = self.resumed.logger_excluded.get(key)
                self.logger.record(key, value, exclude=tuple(excluded) if excluded else None)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        if self.model.num_timesteps - self._last_saved >= self.every_steps:
            self.save()

    def save(self) -> Checkpoint:
        """Write the checkpoint now (meaningful at a rollout boundary); return what ``checkpoint.yml`` says."""
        model: BaseAlgorithm = self.model
        folder = self.run_dir / CHECKPOINT_DIR
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob(".tmp-*"):  # of a process killed while it saved
            leftover.unlink()
        steps = int(model.num_timesteps)
        name = f"model_{steps}_steps.zip"
        tmp = folder / f".tmp-{os.getpid()}-{name}"
        model.save(tmp)
        os.replace(tmp, folder / name)
        vec_normalize = model.get_vec_normalize_env()
        if isinstance(vec_normalize, VecNormalize):
            stats = folder / self.run_dir.name.rsplit("_", 1)[0]
            stats.mkdir(exist_ok=True)
            vec_normalize.save(str(stats / ".vecnormalize.pkl.tmp"))
            os.replace(stats / ".vecnormalize.pkl.tmp", stats / "vecnormalize.pkl")
        earlier = self.resumed.train_seconds if self.resumed is not None else 0.0
        pending = _pending_values(self.logger)
        checkpoint = Checkpoint(
            run_dir=self.run_dir,
            model=name,
            num_timesteps=steps,
            progress_rows=_data_rows(self.progress_csv, header_lines=1),
            monitor_rows={p.name: _data_rows(p, header_lines=2) for p in _monitor_files(self.run_dir)},
            train_seconds=round(earlier + time.time() - self._started, 1),
            resumes=self.resumed.resumes + 1 if self.resumed is not None else 0,
            logger_values=pending,
            logger_excluded=_pending_exclusions(self.logger, pending),
        )
        record = {key: value for key, value in asdict(checkpoint).items() if key != "run_dir"}
        record["saved"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        _atomic_write_text(folder / CHECKPOINT_FILE, yaml.safe_dump(record, sort_keys=False))
        for old in folder.glob("model_*_steps.zip"):
            if old.name != name:
                old.unlink()
        self._last_saved = steps
        return checkpoint


def _pending_values(logger: Any) -> dict[str, float | int]:
    """The numbers recorded in the SB3 logger since its last dump (bools and strings are not train/* values)."""
    values: dict[str, float | int] = {}
    for key, value in logger.name_to_value.items():
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            continue
        values[key] = int(value) if isinstance(value, (int, np.integer)) else float(value)
    return values


def _pending_exclusions(logger: Any, pending: dict[str, float | int]) -> dict[str, list[str]]:
    """The output formats each pending value is excluded from (SB3's ``record(..., exclude=...)``)."""
    excluded = getattr(logger, "name_to_excluded", {})
    return {key: list(excluded[key]) for key in pending if excluded.get(key)}


def _truncate_rows(path: Path, header_lines: int, rows: int) -> list[str]:
    """Keep the header and the first ``rows`` data rows of ``path``; return the lines kept."""
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        lines = handle.readlines()
    keep = lines[: header_lines + rows]
    if len(keep) != len(lines):
        _atomic_write_text(path, "".join(keep))
    return keep


def _last_monitor_time(lines: list[str]) -> float:
    """The ``t`` of a monitor file's last row, from its lines (0 for a file without rows)."""
    rows = list(csv.reader(lines[1:]))  # past the JSON header line: the column names, then rows
    if len(rows) < 2:
        return 0.0
    return float(rows[-1][rows[0].index("t")])


def prepare_resume(checkpoint: Checkpoint, progress_csv: str | Path) -> float:
    """Cut the rows written after the checkpoint from ``progress.csv`` and the monitor files, and record the resume
    in ``resumes.csv``. A monitor file the checkpoint does not know (none yet at the checkpoint) is emptied to its
    header. Returns the seconds at which the resumed segment's monitor clocks start (module docstring)."""
    _truncate_rows(Path(progress_csv), 1, checkpoint.progress_rows)
    clock = checkpoint.train_seconds
    for path in _monitor_files(checkpoint.run_dir):
        kept = _truncate_rows(path, 2, checkpoint.monitor_rows.get(path.name, 0))
        clock = max(clock, _last_monitor_time(kept))
    log = checkpoint.run_dir / RESUMES_CSV
    new = not log.is_file()
    with log.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["resume", "num_timesteps", "train_seconds_before", "resumed_at", "machine", "code"])
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        row = [checkpoint.resumes + 1, checkpoint.num_timesteps, checkpoint.train_seconds, now]
        writer.writerow([*row, machine_description(), code_version()])  # the next segment may run elsewhere
    return clock


def continue_monitor_clocks(env: VecEnv, seconds: float) -> None:
    """Start the clock of every SB3 ``Monitor`` inside ``env`` at ``seconds`` (their next rows' ``t`` continue a
    resumed run's files), through gymnasium's ``set_wrapper_attr`` on each env (``VecEnv.env_method``)."""
    env.env_method("set_wrapper_attr", "t_start", time.time() - seconds, force=False)
