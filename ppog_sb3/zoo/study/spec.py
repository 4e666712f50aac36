"""The study file (:func:`load_study`) and where each run lives (the layout in :mod:`ppog_sb3.zoo.study`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ppog_sb3.zoo.compare.reading import env_folder_name

PROG = "ppog-zoo study"
MARKER_SUFFIX = ".study_run.yml"
RANDOM_SCORES_FILE = "random_scores.csv"


class StudyError(Exception):
    """A user error (bad study file, missing folder): printed as one line, exit code 1."""


@dataclass(frozen=True)
class Arm:
    """One algorithm configuration of a setting: ``ppog-zoo train --algo <algo> -conf <conf> -params <params>``."""

    name: str
    algo: str
    conf: Path
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    setting: str
    arm: Arm
    game: str
    seed: int
    n_timesteps: int
    checkpoint_freq: int = 0  # ppog-zoo train --checkpoint-freq (0: none), for resuming an interrupted run

    @property
    def key(self) -> str:
        return f"{self.setting}/{self.arm.name}/{self.game}/seed {self.seed}"


@dataclass(frozen=True)
class Study:
    path: Path
    n_timesteps: int
    seeds: tuple[int, ...]
    games: tuple[str, ...]
    settings: dict[str, dict[str, Arm]]
    order: tuple[str, ...]
    reference_arm: tuple[str, str]
    checkpoint_freq: int = 0

    def runs(
        self,
        settings: Sequence[str] | None = None,
        arms: Sequence[str] | None = None,
        games: Sequence[str] | None = None,
        seeds: Sequence[int] | None = None,
    ) -> list[Run]:
        """The study's runs in its order: setting by setting (``order``), and within one, seed by seed (all games
        and arms of seed 1, then seed 2, ...). The filters keep a subset (``None``: all)."""
        for name, values, allowed in (
            ("--settings", settings, list(self.settings)),
            ("--arms", arms, sorted({a for s in self.settings.values() for a in s})),
        ):
            unknown = [v for v in values or [] if v not in allowed]
            if unknown:
                raise StudyError(f"{name}: {unknown} not in the study; allowed: {allowed}")
        result = []
        for setting in self.order:
            if settings is not None and setting not in settings:
                continue
            for seed in seeds if seeds is not None else self.seeds:
                for game in games if games is not None else self.games:
                    for arm in self.settings[setting].values():
                        if arms is None or arm.name in arms:
                            result.append(Run(setting, arm, game, int(seed), self.n_timesteps, self.checkpoint_freq))
        return result


def _require(mapping: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in mapping:
        raise StudyError(f"{where}: missing key {key!r}")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise StudyError(f"{where}: {key}={value!r} must be {getattr(kind, '__name__', kind)}")
    return value


def load_study(path: str | Path) -> Study:
    """Read and check a study file (see ``zoo_configs/minatar/study.yml``)."""
    path = Path(path)
    if not path.is_file():
        raise StudyError(f"study file {str(path)!r} does not exist")
    with path.open() as handle:
        data = yaml.safe_load(handle)
    where = str(path)
    if not isinstance(data, dict):
        raise StudyError(f"{where}: expected a mapping at the top level")
    n_timesteps = _require(data, "n_timesteps", int, where)
    seeds = _require(data, "seeds", list, where)
    games = _require(data, "games", list, where)
    if n_timesteps < 1 or not seeds or not games:
        raise StudyError(f"{where}: n_timesteps must be >= 1 and seeds, games non-empty")
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise StudyError(f"{where}: seeds={seeds!r} must be distinct integers >= 0")
    settings: dict[str, dict[str, Arm]] = {}
    for setting, arms in _require(data, "settings", dict, where).items():
        if not isinstance(arms, dict) or not arms:
            raise StudyError(f"{where}: settings.{setting} must map arm names to {{algo, conf, params}}")
        settings[setting] = {}
        for arm_name, spec in arms.items():
            arm_where = f"{where}: settings.{setting}.{arm_name}"
            if not isinstance(spec, dict):
                raise StudyError(f"{arm_where} must be a mapping with algo and conf")
            conf = path.parent / _require(spec, "conf", str, arm_where)
            if not conf.is_file():
                raise StudyError(f"{arm_where}: conf {str(conf)!r} does not exist")
            params = spec.get("params") or {}
            if not isinstance(params, dict):
                raise StudyError(f"{arm_where}: params must be a mapping")
            settings[setting][arm_name] = Arm(arm_name, _require(spec, "algo", str, arm_where), conf, dict(params))
    # Decision: by default a checkpoint every 10% of a run (at most a tenth of a run is trained twice after a kill);
    # `checkpoint_freq: 0` turns them off. Checkpoints do not change what a run computes
    # (tests/zoo/test_zoo_restart_resume.py).
    checkpoint_freq = data.get("checkpoint_freq", max(n_timesteps // 10, 1))
    if not isinstance(checkpoint_freq, int) or isinstance(checkpoint_freq, bool) or checkpoint_freq < 0:
        raise StudyError(f"{where}: checkpoint_freq={checkpoint_freq!r} must be an integer >= 0 (agent steps; 0: none)")
    order = data.get("order", list(settings))
    if sorted(order) != sorted(settings):
        raise StudyError(f"{where}: order={order!r} must list each setting once: {sorted(settings)}")
    reference = data.get("reference_arm") or {}
    if not isinstance(reference, dict) or reference.get("arm") not in settings.get(str(reference.get("setting")), {}):
        raise StudyError(f"{where}: reference_arm={reference!r} must name a setting and one of its arms")
    return Study(
        path=path,
        n_timesteps=n_timesteps,
        seeds=tuple(seeds),
        games=tuple(games),
        settings=settings,
        order=tuple(order),
        reference_arm=(reference["setting"], reference["arm"]),
        checkpoint_freq=checkpoint_freq,
    )


# ---------------------------------------------------------------------- where runs live
def log_folder(root: str | Path, run: Run) -> Path:
    """The zoo ``-f`` folder of one run: ``<root>/<setting>/<arm>/seed_<seed>``."""
    return Path(root) / run.setting / run.arm.name / f"seed_{run.seed}"


def zoo_run_dir(root: str | Path, run: Run) -> Path:
    """The zoo's run folder inside it (the zoo numbers from 1, and this folder only ever holds one run per game)."""
    return log_folder(root, run) / run.arm.algo / f"{env_folder_name(run.game)}_1"


def marker_path(root: str | Path, run: Run) -> Path:
    return log_folder(root, run) / f"{env_folder_name(run.game)}{MARKER_SUFFIX}"


def is_done(root: str | Path, run: Run) -> bool:
    return marker_path(root, run).is_file()


def train_command(run: Run, root: str | Path) -> list[str]:
    """The ``ppog-zoo train`` command line of one run (run with this Python, so a venv's ppog-zoo)."""
    command = [
        sys.executable, "-m", "ppog_sb3.zoo", "train",
        "--algo", run.arm.algo,
        "--env", run.game,
        "-conf", str(run.arm.conf),
        "--seed", str(run.seed),
        "-n", str(run.n_timesteps),
        "-f", str(log_folder(root, run)),
        "--num-threads", "1",
        "--eval-freq", "-1",
    ]  # fmt: skip
    if run.checkpoint_freq > 0:
        command += ["--checkpoint-freq", str(run.checkpoint_freq)]
    if run.arm.params:
        command += ["-params", *(f"{key}:{value}" for key, value in run.arm.params.items())]
    return command
