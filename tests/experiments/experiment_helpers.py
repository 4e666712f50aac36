"""Run folders made by hand for the experiment tools' tests: monitor files with known episodes, tiny study files, and
finished study runs (marker + monitor file) whose every score is known before the code under test reads it."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ppog_sb3.experiments.compare.reading import env_folder_name
from ppog_sb3.experiments.study.spec import Run, marker_path, zoo_run_dir

REPO = Path(__file__).resolve().parents[2]
MINATAR = REPO / "zoo_configs" / "minatar"
ENV = "CartPole-v1"
BREAKOUT, INVADERS, ASTERIX = "MinAtar/Breakout-v1", "MinAtar/SpaceInvaders-v1", "MinAtar/Asterix-v1"


def write_monitor(path: Path, rows: list[tuple[float, int, float]], t_start: float = 1000.0, env_id: str = ENV) -> None:
    """An SB3 monitor file: the JSON header line, ``r,l,t``, one row per episode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["#" + json.dumps({"t_start": t_start, "env_id": env_id}), "r,l,t"]
    lines += [f"{r},{length},{t}" for r, length, t in rows]
    path.write_text("\n".join(lines) + "\n")


def fake_run(folder: Path, algo: str, n: int, rewards: list[float], length: int = 10, env: str = ENV) -> Path:
    """A zoo run folder ``<folder>/<algo>/<env>_<n>`` with one monitor file of these episode rewards."""
    run = folder / algo / f"{env_folder_name(env)}_{n}"
    write_monitor(run / "0.monitor.csv", [(r, length, float(i + 1)) for i, r in enumerate(rewards)], env_id=env)
    return run


def write_study(tmp_path: Path, **changes) -> Path:
    """A study file of two MinAtar games, seeds 1 and 2, one setting ``tiny`` with the arms ppo and ppog on tiny
    versions of the zoo configs; ``changes`` replace top-level keys."""
    tiny = {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1}
    for algo in ("ppo", "ppog"):
        sections = yaml.safe_load((MINATAR / f"zoo_{algo}.yml").read_text())
        sections = {k: {**v, **tiny} for k, v in sections.items() if k.startswith("MinAtar/")}
        (tmp_path / f"{algo}.yml").write_text(yaml.safe_dump(sections))
    study = {
        "n_timesteps": 512,
        "seeds": [1, 2],
        "games": [BREAKOUT, INVADERS],
        "settings": {"tiny": {"ppo": {"algo": "ppo", "conf": "ppo.yml"}, "ppog": {"algo": "ppog", "conf": "ppog.yml"}}},
        "reference_arm": {"setting": "tiny", "arm": "ppo"},
        **changes,
    }
    path = tmp_path / "study.yml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def finish_run(root: Path, run: Run, rewards: list[float], length: int = 10) -> None:
    """A finished study run: its monitor file holds ``rewards`` (one episode each), and its marker exists."""
    write_monitor(
        zoo_run_dir(root, run) / "0.monitor.csv", [(r, length, 0.5 * (i + 1)) for i, r in enumerate(rewards)], 0.0, run.game
    )
    marker_path(root, run).write_text(yaml.safe_dump({"setting": run.setting, "arm": run.arm.name, "wall_s": 60.0}))


def write_random_scores(root: Path, scores: dict[str, float]) -> None:
    """``random_scores.csv`` as ``ppog-zoo study random`` writes it (the report reads ``game`` and ``mean``)."""
    root.mkdir(parents=True, exist_ok=True)
    rows = ["game,episodes,seed,mean,std,steps", *(f"{game},10,0,{mean},1.0,100" for game, mean in scores.items())]
    (root / "random_scores.csv").write_text("\n".join(rows) + "\n")
