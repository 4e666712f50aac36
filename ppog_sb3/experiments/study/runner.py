"""Training the runs (one ``ppog-zoo train`` subprocess each, ``workers`` at a time) and the random policy's scores."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from ppog_sb3.common import run_files
from ppog_sb3.common.provenance import code_version, machine_description
from ppog_sb3.experiments.compare.reading import env_folder_name
from ppog_sb3.experiments.study.spec import Arm, Run, Study, is_done, log_folder, marker_path, train_command, zoo_run_dir

_print_lock = threading.Lock()


def _say(message: str) -> None:
    with _print_lock:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _relative_run(run: Run) -> Run:
    arm = Arm(run.arm.name, run.arm.algo, Path(run.arm.conf.name), run.arm.params, run.arm.games)
    return Run(run.setting, arm, run.game, run.seed, run.n_timesteps, run.checkpoint_freq)


def _final_timesteps(run: Run, run_dir: Path) -> int | None:
    """The step count of the run's final model file (``<run>/<EnvName>.zip``), None without one."""
    model = run_dir / f"{env_folder_name(run.game)}.zip"
    try:
        with zipfile.ZipFile(model) as archive:
            return int(json.loads(archive.read("data"))["num_timesteps"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def execute(run: Run, root: str | Path, nice: int = 0, workers: int = 1) -> bool | None:
    """Train one run, or resume it from its checkpoint (``ppog-zoo train --resume``) when an interrupted process left
    one; write its marker when the process exits with 0 having trained all ``n_timesteps``. An unfinished folder
    without a checkpoint is removed and trained from the start. The process's output goes to
    ``<folder>/<EnvName>.train.log`` (not committed: ``progress.csv`` has the numbers). ``workers``: how many runs
    the caller trains side by side (recorded as ``side_by_side``: the wall time depends on it).

    Returns True when the run is done, False when it failed, None when another process holds the run's lock
    (``<folder>/<EnvName>.lock``, ``flock``): a second ``study run`` on the same log folder, or the training process
    of a runner that was killed (the process inherits the lock and keeps it until it exits), is never raced."""
    folder = log_folder(root, run)
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / f"{env_folder_name(run.game)}.lock"
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(f"skipped {run.key}: another process is training it ({lock_path} is locked)")
            return None
        if is_done(root, run):  # finished by another runner since this one listed it
            return True
        return _execute_locked(run, root, nice, lock, workers)
    finally:
        os.close(lock)


def _execute_locked(run: Run, root: str | Path, nice: int, lock: int, workers: int) -> bool:
    folder = log_folder(root, run)
    run_dir = zoo_run_dir(root, run)
    resume_from = run_files.read_checkpoint(run_dir) if run.checkpoint_freq > 0 else None
    code = code_version()  # at the start: the checkout may change while the run trains
    # The first segment's machine and code, kept beside the run until it is done (a resume records only its own)
    start_file = folder / f"{env_folder_name(run.game)}.study_start.yml"
    if resume_from is None:
        # The folder is shared by the games of one (setting, arm, seed): remove only this game's unfinished run
        for stale in (folder / run.arm.algo).glob(f"{env_folder_name(run.game)}_*"):
            shutil.rmtree(stale)
        folder.mkdir(parents=True, exist_ok=True)
        start = {"from_step": 0, "machine": machine_description(), "code": code}
        start_file.write_text(yaml.safe_dump(start, sort_keys=False))
    command = train_command(run, root)
    if resume_from is not None:
        command.append("--resume")
        _say(f"resuming {run.key} from its checkpoint at step {resume_from.num_timesteps}")
    started = time.time()
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    log_mode = "a" if resume_from is not None else "w"
    with (folder / f"{env_folder_name(run.game)}.train.log").open(log_mode) as log:
        process = subprocess.run(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            pass_fds=(lock,),  # the training process holds the run's lock too, as long as it lives
            env=environment,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
    wall = time.time() - started
    if process.returncode != 0:
        _say(f"FAILED {run.key} (exit {process.returncode}, {wall:.0f} s): see {folder}")
        return False
    if not run_dir.is_dir():
        _say(f"FAILED {run.key}: the zoo wrote no {run_dir}")
        return False
    # The zoo saves the model and exits with 0 on Ctrl-C too: a run is done only with all its steps
    steps = _final_timesteps(run, run_dir)
    if steps is None or steps < run.n_timesteps:
        _say(f"FAILED {run.key}: its model has {steps} of {run.n_timesteps} steps (interrupted?); run the study again")
        return False
    resumes = run_files.read_resumes(run_dir)
    if resumes:  # the training seconds of the segments before the last resume
        wall += resumes[-1]["train_seconds_before"]
    record = {
        "setting": run.setting,
        "arm": run.arm.name,
        "algo": run.arm.algo,
        "game": run.game,
        "seed": run.seed,
        "n_timesteps": run.n_timesteps,
        "conf": run.arm.conf.name,  # beside the study file
        "params": dict(run.arm.params),
        "run_dir": os.path.relpath(zoo_run_dir(root, run), folder),
        # as typed from the study's log root and the study file's folder
        "command": " ".join(["ppog-zoo", *train_command(_relative_run(run), ".")[3:]]),
        "wall_s": round(wall, 1),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_description(),
        "code": code,
        "side_by_side": workers,
    }
    if resumes:  # not bit for bit an uninterrupted run: see ppog_sb3.zoo.restart_resume
        record["resumed_at_steps"] = [r["num_timesteps"] for r in resumes]
        # the machine and code of each segment: the first one's from the start file (absent for runs started by a
        # runner older than it), the resumed ones' from resumes.csv; `machine` and `code` above are the last one's
        first = [yaml.safe_load(start_file.read_text())] if start_file.is_file() else []
        resumed = [{"from_step": r["num_timesteps"], "machine": r["machine"], "code": r["code"]} for r in resumes]
        record["segments"] = first + resumed
    with marker_path(root, run).open("w") as handle:
        yaml.safe_dump(record, handle, sort_keys=False)
    start_file.unlink(missing_ok=True)
    shutil.rmtree(run_dir / run_files.CHECKPOINT_DIR, ignore_errors=True)  # the run is done: its final model stays
    _say(f"done {run.key} in {wall:.0f} s")
    return True


def run_study(study: Study, root: str | Path, runs: list[Run], workers: int, nice: int = 0, dry_run: bool = False) -> int:
    """Train the runs that are not done, ``workers`` at a time; return how many failed."""
    todo = [run for run in runs if not is_done(root, run)]
    _say(f"{len(runs) - len(todo)} of {len(runs)} runs done; {len(todo)} to train with {workers} worker(s) in {root}")
    if dry_run:
        for run in todo:
            print(" ".join(train_command(run, root)))
        return 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda run: execute(run, root, nice, workers), todo))
    failed, busy = results.count(False), results.count(None)
    _say(f"finished: {len(todo) - failed - busy} trained, {failed} failed, {busy} skipped (trained elsewhere)")
    return failed


# ---------------------------------------------------------------------- the random policy's scores
def _random_returns(game: str, episodes: int, seed: int) -> tuple[list[float], int]:
    """Returns of ``episodes`` uniform-random episodes of ``game`` and the agent steps they took.

    A plugin id (``ppog/<Game>-v5``) is played through its fast vector env, one emulator, counting its game-level
    ``info["episode"]`` (full game, unclipped: what the training monitor files hold); a single env's episodes would be
    lives with clipped rewards. Any other id: ``gym.make`` and its own episodes."""
    import gymnasium as gym
    import numpy as np

    from ppog_sb3.envs import is_plugin_id, make_atari_vec_env

    returns: list[float] = []
    steps = 0
    if is_plugin_id(game):
        venv = make_atari_vec_env(str(gym.spec(game).kwargs["game"]), n_envs=1, seed=seed)
        venv.action_space.seed(seed)
        venv.reset()
        while len(returns) < episodes:
            _, _, _, infos = venv.step(np.array([venv.action_space.sample()]))
            steps += 1
            if "episode" in infos[0]:
                returns.append(float(infos[0]["episode"]["r"]))
        venv.close()
        return returns, steps
    env = gym.make(game)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    total = 0.0
    while len(returns) < episodes:
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        total += float(reward)
        steps += 1
        if terminated or truncated:
            returns.append(total)
            total = 0.0
            env.reset()
    env.close()
    return returns, steps


def random_scores(games: Sequence[str], episodes: int, seed: int = 0) -> list[dict[str, Any]]:
    """Mean return of a uniform-random policy over ``episodes`` episodes of each game (one env, seeded; the same
    env options as training, sticky actions included; see :func:`_random_returns`)."""
    import numpy as np

    from ppog_sb3.envs import register_envs, register_minatar_envs

    register_envs()
    register_minatar_envs()
    rows = []
    for game in games:
        returns, steps = _random_returns(game, episodes, seed)
        values = np.asarray(returns)
        rows.append(
            {
                "game": game,
                "episodes": episodes,
                "seed": seed,
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                "steps": steps,
            }
        )
    return rows
