"""Which model file ``ppog-zoo enjoy`` and ``ppog-zoo record_video`` load: the zoo's ``get_model_path``, and with
``--load-checkpoint N`` / ``--load-last-checkpoint`` also the run's ``--checkpoint-freq`` checkpoint.

The zoo's own ``--save-freq`` writes ``rl_model_<N>_steps.zip`` into the run folder, and its two flags look only for
those. ``ppog-zoo train --checkpoint-freq`` writes a resumable checkpoint, ``checkpoint/model_<N>_steps.zip``
(:mod:`ppog_sb3.zoo.restart_resume`): without this, a day-long run trained the README's way could not be watched
before its end. Decision: both kinds are candidates; ``--load-last-checkpoint`` takes the most steps, and the zoo's
file wins a tie (a run with both flags keeps the zoo's behaviour). Every other flag is the zoo's function unchanged.

A run normalized with ``VecNormalize`` keeps its checkpoint's statistics in ``checkpoint/<EnvName>/``, and the zoo's
enjoy reads statistics only from ``<EnvName>/`` beside the final model (the statistics at the end, or none before
it): such a checkpoint is refused with a message rather than played with statistics that are not its own.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from huggingface_sb3 import EnvironmentName, ModelName
from rl_zoo3.utils import get_latest_run_id
from rl_zoo3.utils import get_model_path as zoo_get_model_path  # bound here, before seams hands this module's in

from ppog_sb3.common.run_files import CHECKPOINT_DIR

ZOO_PATTERN = "rl_model_{}_steps.zip"
OWN_PATTERN = "model_{}_steps.zip"


def _steps(path: str) -> int:
    return int(Path(path).name.split("_")[-2])  # <prefix>_<steps>_steps.zip


def get_model_path(
    exp_id: int,
    folder: str,
    algo: str,
    env_name: EnvironmentName,
    load_best: bool = False,
    load_checkpoint: str | None = None,
    load_last_checkpoint: bool = False,
) -> tuple[str, str, str]:
    """``rl_zoo3.utils.get_model_path`` (same arguments and result: name prefix, model path, run folder), with the
    run's ``checkpoint/model_<N>_steps.zip`` a candidate for ``load_checkpoint`` and ``load_last_checkpoint``."""
    if load_best or (load_checkpoint is None and not load_last_checkpoint):
        return zoo_get_model_path(exp_id, folder, algo, env_name, load_best, load_checkpoint, load_last_checkpoint)
    if exp_id == 0:
        exp_id = get_latest_run_id(os.path.join(folder, algo), env_name)
        print(f"Loading latest experiment, id={exp_id}")
    log_path = os.path.join(folder, algo, f"{env_name}_{exp_id}") if exp_id > 0 else os.path.join(folder, algo)
    assert os.path.isdir(log_path), f"The {log_path} folder was not found"
    own_dir = os.path.join(log_path, CHECKPOINT_DIR)

    wanted = "*" if load_checkpoint is None else str(load_checkpoint)
    candidates: dict[int, str] = {}
    for path in sorted(glob.glob(os.path.join(own_dir, OWN_PATTERN.format(wanted)))):
        candidates[_steps(path)] = path
    for path in sorted(glob.glob(os.path.join(log_path, ZOO_PATTERN.format(wanted)))):
        candidates[_steps(path)] = path  # the zoo's own file wins a tie
    if not candidates:
        own = sorted(glob.glob(os.path.join(own_dir, OWN_PATTERN.format("*"))))
        there = f"; the run's checkpoint is at step {_steps(own[-1])}" if own else ""
        flag = "--load-last-checkpoint" if load_checkpoint is None else f"--load-checkpoint {load_checkpoint}"
        raise ValueError(
            f"{flag}: no checkpoint for {algo} on {env_name} in {log_path}: neither the zoo's "
            f"{ZOO_PATTERN.format(wanted)} (--save-freq) nor {CHECKPOINT_DIR}/{OWN_PATTERN.format(wanted)} "
            f"(--checkpoint-freq){there}"
        )
    steps = max(candidates)
    model_path = candidates[steps]
    stats = os.path.join(own_dir, str(env_name), "vecnormalize.pkl")
    if os.path.dirname(model_path) == own_dir and os.path.isfile(stats):
        raise ValueError(
            f"{model_path} is a checkpoint of a VecNormalize run: its statistics ({stats}) are not the ones "
            "enjoy / record_video load (those beside the final model), so it is not played; load the final model "
            "(no --load-checkpoint / --load-last-checkpoint) once the run has ended"
        )
    return f"checkpoint-{steps}-{ModelName(algo, env_name)}", model_path, log_path
