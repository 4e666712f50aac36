"""Reading zoo run folders: episodes from the monitor files (SB3's ``load_results``), updates from ``progress.csv``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from stable_baselines3.common.monitor import LoadMonitorResultsError, get_monitor_files, load_results
from stable_baselines3.common.results_plotter import X_TIMESTEPS, X_WALLTIME, ts2xy

from ppog_sb3.common.run_files import RESUMES_CSV

PROG = "ppog-zoo compare"

#: x axes of the learning curves: column of the episodes table, axis label
X_AXES: dict[str, tuple[str, str]] = {
    "timesteps": ("timesteps", "agent steps (all envs)"),
    "episodes": ("episode", "episodes (all envs)"),
    "walltime": ("walltime_h", "wall-clock time (hours)"),
}

CLIP_FRACTION = "train/clip_fraction"
MASKED_FRACTION = "train/masked_fraction"
STEPS_COLUMN = "time/total_timesteps"

#: fixed colours so that PPOG and PPO look the same in every plot
ALGO_COLORS: dict[str, str] = {"ppog": "tab:red", "ppo": "tab:blue", "a2c": "tab:green"}

EPISODE_COLUMNS = [
    "algo",
    "run",
    "seed",
    "episode",
    "timesteps",
    "walltime_h",
    "reward",
    "length",
]


class CompareError(Exception):
    """A user error (missing folder, no runs, bad option): ``main`` prints it as one line and exits with 1."""


# ---------------------------------------------------------------------- finding and reading runs
def env_folder_name(env_id: str) -> str:
    """The zoo's folder name of an env id (huggingface_sb3's ``EnvironmentName``): ``ppog/X-v5`` -> ``ppog-X-v5``."""
    name = env_id.replace("/", "-")
    if ":" in name:  # "module:EnvId" -> "EnvId"
        name = name.split(":")[-1]
    return name


def find_runs(log_folder: str | Path, env: str, algo: str) -> list[Path]:
    """Run folders ``<log_folder>/<algo>/<env>_<n>[_<uuid>]``, sorted by run number (empty list: none)."""
    base = Path(log_folder) / algo
    if not base.is_dir():
        return []
    pattern = re.compile(rf"^{re.escape(env_folder_name(env))}_(\d+)(_[0-9a-fA-F-]{{36}})?$")
    runs = []
    for path in base.iterdir():
        match = pattern.match(path.name)
        if match and path.is_dir():
            runs.append((int(match.group(1)), path.name, path))
    return [path for _, _, path in sorted(runs)]


def _yaml_loader() -> type[yaml.SafeLoader]:
    """A safe YAML loader that also reads the zoo's ``!!python/object/apply:collections.OrderedDict`` files."""

    class ZooLoader(yaml.SafeLoader):
        pass

    def ordered_dict(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> dict[str, Any]:
        (pairs,) = loader.construct_sequence(node, deep=True)
        return {key: value for key, value in pairs}

    ZooLoader.add_constructor("tag:yaml.org,2002:python/object/apply:collections.OrderedDict", ordered_dict)
    return ZooLoader


def _read_zoo_yaml(run_dir: Path, name: str) -> dict[str, Any]:
    """``<run>/<name>`` or ``<run>/<env>/<name>`` (``args.yml``, ``config.yml``), or {} when absent or unreadable."""
    for path in [run_dir / name, *sorted(run_dir.glob(f"*/{name}"))]:
        if not path.is_file():
            continue
        try:
            data = yaml.load(path.read_text(), Loader=_yaml_loader())  # noqa: S506 (a safe loader)
        except (OSError, yaml.YAMLError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return {}


def run_seed(run_dir: str | Path) -> int | None:
    """The ``--seed`` of a zoo run (from its ``args.yml``, see :func:`_read_zoo_yaml`), None when unknown."""
    seed = _read_zoo_yaml(Path(run_dir), "args.yml").get("seed")
    return int(seed) if isinstance(seed, int) else None


def _wrapper_frame_skip(env_wrapper: Any) -> int | None:
    """``frame_skip`` of an ``AtariWrapper`` in a zoo ``env_wrapper`` entry (string, dict or list of them)."""
    items = env_wrapper if isinstance(env_wrapper, list) else [env_wrapper]
    for item in items:
        if isinstance(item, str) and item.endswith("AtariWrapper"):
            return 4
        if isinstance(item, dict):
            for name, kwargs in item.items():
                if str(name).endswith("AtariWrapper"):
                    return int((kwargs or {}).get("frame_skip", 4))
    return None


def frames_per_step(run_dir: str | Path, env_id: str | None = None) -> int:
    """How many monitor-length units make one agent step for this run (see the module docstring)."""
    config = _read_zoo_yaml(Path(run_dir), "config.yml")
    if "env_wrapper" in config:
        skip = _wrapper_frame_skip(config["env_wrapper"])
        return skip if skip is not None else 1
    return 4 if env_id is not None and "NoFrameskip" in env_id else 1


def _mended_times(t: pd.Series) -> pd.Series:
    """The ``t`` of a resumed run's monitor file, in the file's order, continued across the restarts of its clock.

    ``ppog-zoo train --resume`` restarted the monitors' clock at 0 until they continued it
    (:mod:`ppog_sb3.zoo.restart_resume`), and those runs are committed. A restart is a row whose ``t`` is below half the
    previous row's: the first episode of the new segment ends sooner than half the run so far. (Within one segment
    ``t`` only jitters back by milliseconds, between envs ending episodes in the same step.) From a restart on, the
    previous row's ``t`` is added, so the gap between the segments is not counted and sorting by ``t`` keeps the
    file's order.
    """
    previous = t.shift()
    return t + previous.where(t < previous / 2, 0.0).cumsum()


def _monitor_env_id(run_dir: str | Path) -> str | None:
    """The ``env_id`` in the JSON header line of the run folder's first monitor file (None without one)."""
    for path in get_monitor_files(str(run_dir)):
        with open(path) as file:
            first = file.readline()
        try:
            header = json.loads(first[1:]) if first.startswith("#") else {}
        except json.JSONDecodeError:
            continue
        if isinstance(header, dict) and header.get("env_id"):
            return str(header["env_id"])
    return None


def read_monitor_files(run_dir: str | Path) -> tuple[pd.DataFrame, str | None]:
    """All ``*monitor.csv`` of a run folder as one table ``r, l, t`` (t: seconds since the first env started),
    ordered by end time, and the env id of their headers. Empty table when there are none or they hold no episode;
    a half-written last row (a run still writing) is dropped.

    The table is SB3's ``monitor.load_results``, with one mend applied to its result (the files stay as written): in
    a run folder with a ``resumes.csv`` and one monitor file (the fast path's game-level file, the only kind that
    ``ppog-zoo`` resumed before the monitors continued their clock), the rows are put back in the file's order (the
    ``index`` column of ``load_results``), their clock is continued across restarts (:func:`_mended_times`), and
    they are sorted by it again; ``load_results`` alone sorts the later segments in among the first. Runs resumed
    since then (several monitor files or one) continue their clock: the mend leaves them as ``load_results`` reads
    them.
    """
    env_id = _monitor_env_id(run_dir)
    try:
        data = load_results(str(run_dir))
    except LoadMonitorResultsError:  # no monitor file yet
        return pd.DataFrame(columns=["r", "l", "t"]), env_id
    if not {"r", "l", "t"} <= set(data.columns):
        return pd.DataFrame(columns=["r", "l", "t"]), env_id
    columns = ["index", "r", "l", "t"] if "index" in data.columns else ["r", "l", "t"]
    data = data[columns].apply(pd.to_numeric, errors="coerce").dropna()
    if (Path(run_dir) / RESUMES_CSV).is_file() and len(get_monitor_files(str(run_dir))) == 1 and len(data):
        data = data.sort_values("index", kind="stable")
        data["t"] = _mended_times(data["t"])
        data = data.sort_values("t", kind="stable")
    return data[["r", "l", "t"]].reset_index(drop=True), env_id


def load_run(run_dir: str | Path, algo: str = "", run: str | None = None, frame_skip: int | None = None) -> pd.DataFrame:
    """The episodes of one run folder (monitor CSVs), one row per episode in order of end time.

    Columns: ``algo, run, seed, episode`` (1, 2, ...), ``timesteps`` (agent steps of all envs when the episode ended:
    cumulative episode lengths / frames per step), ``walltime_h``, ``reward`` (the monitor's ``r``), ``length``.
    Works on any folder of SB3 monitor files (e.g. ``make_vec_env(..., monitor_dir=folder)``), not only zoo runs.
    """
    run_dir = Path(run_dir)
    monitor, env_id = read_monitor_files(run_dir)
    skip = frame_skip if frame_skip is not None else frames_per_step(run_dir, env_id)
    n = len(monitor)
    steps, rewards = ts2xy(monitor, X_TIMESTEPS) if n else (np.zeros(0), np.zeros(0))
    hours = ts2xy(monitor, X_WALLTIME)[0] if n else np.zeros(0)
    return pd.DataFrame(
        {
            "algo": [algo] * n,
            "run": [run or run_dir.name] * n,
            "seed": pd.array([run_seed(run_dir)] * n, dtype="Int64"),
            "episode": np.arange(1, n + 1),
            "timesteps": np.asarray(steps, dtype=float) / skip,
            "walltime_h": np.asarray(hours, dtype=float),
            "reward": np.asarray(rewards, dtype=float),
            "length": monitor["l"].to_numpy(dtype=float),
        },
        columns=EPISODE_COLUMNS,
    )


def load_runs(log_folder: str | Path, env: str, algo: str, frame_skip: int | None = None) -> pd.DataFrame:
    """The episodes of every run of ``algo`` on ``env`` in a zoo log folder (:func:`load_run` rows, all runs)."""
    tables = [load_run(path, algo=algo, frame_skip=frame_skip) for path in find_runs(log_folder, env, algo)]
    tables = [table for table in tables if len(table)]
    if not tables:
        return pd.DataFrame(columns=EPISODE_COLUMNS)
    return pd.concat(tables, ignore_index=True)


def read_progress(path: str | Path) -> pd.DataFrame:
    """SB3's ``progress.csv`` (CSV logger) as a table, numeric columns as numbers; empty when unreadable."""
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return pd.DataFrame()
    for column in table.columns:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    return table


def find_progress_file(run_dir: str | Path) -> Path | None:
    """``<run>/progress.csv``, else the first ``progress.csv`` below the run folder, else None."""
    run_dir = Path(run_dir)
    direct = run_dir / "progress.csv"
    if direct.is_file():
        return direct
    found = sorted(run_dir.rglob("progress.csv"))
    return found[0] if found else None


def load_progress(log_folder: str | Path, env: str, algo: str) -> pd.DataFrame:
    """The ``progress.csv`` rows (one per update) of every run of ``algo`` on ``env``, with ``algo``, ``run``,
    ``seed`` and ``timesteps`` (= ``time/total_timesteps``) added; empty table when no run has one."""
    tables = []
    for run_dir in find_runs(log_folder, env, algo):
        path = find_progress_file(run_dir)
        if path is None:
            continue
        table = read_progress(path)
        if STEPS_COLUMN not in table.columns or table.empty:
            continue
        table.insert(0, "timesteps", table[STEPS_COLUMN])
        table.insert(0, "seed", pd.array([run_seed(run_dir)] * len(table), dtype="Int64"))
        table.insert(0, "run", run_dir.name)
        table.insert(0, "algo", algo)
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["algo", "run", "seed", "timesteps"])
    return pd.concat(tables, ignore_index=True)


def has_legacy_clip_fraction(run: pd.DataFrame) -> bool:
    """True for a run logged before PPOG's ``train/clip_fraction`` took SB3's meaning: it logs both keys and they are
    equal in every update (then it held the masked fraction). A run with SB3's meaning logs a clip fraction at least
    as large, and larger as soon as a sample's ratio left the band in the direction the advantage does not push."""
    if CLIP_FRACTION not in run.columns or MASKED_FRACTION not in run.columns:
        return False
    both = run[[CLIP_FRACTION, MASKED_FRACTION]].dropna()
    return len(both) > 0 and bool(np.allclose(both[CLIP_FRACTION], both[MASKED_FRACTION], rtol=0, atol=1e-12))
