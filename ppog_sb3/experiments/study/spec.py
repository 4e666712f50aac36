"""The study file (:func:`load_study`) and where each run lives (the layout in :mod:`ppog_sb3.experiments.study`).

Games per setting and per arm: the top-level ``games`` lists every game of the study (in the order of the report), and
is what each setting plays; a setting's ``games:`` key (beside its arms) plays a subset of them, and an arm's
``games:`` a subset of its setting's. ``games`` is therefore not an arm name. Seeds per setting: the top-level
``seeds`` are every setting's unless the setting says ``seeds:`` beside its arms (the ``tuned`` setting of issue 25
trains its best configurations on seeds the searches never used); ``seeds`` is not an arm name either.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ppog_sb3.experiments.compare.reading import env_folder_name

PROG = "ppog-zoo study"
MARKER_SUFFIX = ".study_run.yml"
RANDOM_SCORES_FILE = "random_scores.csv"
#: the keys of an arm in the study file
ARM_KEYS = ("algo", "conf", "params", "games")


class StudyError(Exception):
    """A user error (bad study file, missing folder): printed as one line, exit code 1."""


@dataclass(frozen=True)
class Arm:
    """One algorithm configuration of a setting: ``ppog-zoo train --algo <algo> -conf <conf> -params <params>``."""

    name: str
    algo: str
    conf: Path
    params: dict[str, Any] = field(default_factory=dict)
    games: tuple[str, ...] = ()  # the games it plays, when fewer than its setting's (empty: all of them)


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
    setting_games: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a setting's own games (absent: all)
    setting_seeds: dict[str, tuple[int, ...]] = field(default_factory=dict)  # a setting's own seeds (absent: seeds)
    # agent-step budgets at which the report scores a setting's runs too (absent: the final score only)
    setting_score_at: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def seeds_of(self, setting: str) -> tuple[int, ...]:
        """The seeds of a setting: its own ``seeds:``, else the study's."""
        return self.setting_seeds.get(setting, self.seeds)

    def score_at_of(self, setting: str) -> tuple[int, ...]:
        """The earlier budgets a setting is scored at too (its ``score_at:``; e.g. the budget of the searches that
        chose its configurations), in increasing order; empty when it has none."""
        return self.setting_score_at.get(setting, ())

    def score_budgets(self) -> list[int]:
        """Every budget of any setting's ``score_at:``, once each, in increasing order."""
        return sorted({budget for setting in self.order for budget in self.score_at_of(setting)})

    def games_of(self, setting: str, arm: str | None = None) -> tuple[str, ...]:
        """The games of a setting, or of one of its arms, in the study's order (module docstring)."""
        own = self.setting_games.get(setting, ())
        games = tuple(game for game in self.games if game in own) if own else self.games
        own = self.settings[setting][arm].games if arm is not None else ()
        return tuple(game for game in games if game in own) if own else games

    def runs(
        self,
        settings: Sequence[str] | None = None,
        arms: Sequence[str] | None = None,
        games: Sequence[str] | None = None,
        seeds: Sequence[int] | None = None,
    ) -> list[Run]:
        """The study's runs in its order: setting by setting (``order``), and within one, seed by seed (all games
        and arms of seed 1, then seed 2, ...), each arm on its games (:meth:`games_of`). The filters keep a subset
        (``None``: all); ``seeds`` may also name seeds the study file does not list."""
        for name, values, allowed in (
            ("--settings", settings, list(self.settings)),
            ("--arms", arms, sorted({a for s in self.settings.values() for a in s})),
            ("--games", games, list(self.games)),
        ):
            unknown = [v for v in values or [] if v not in allowed]
            if unknown:
                raise StudyError(f"{name}: {unknown} not in the study; allowed: {allowed}")
        result = []
        for setting in self.order:
            if settings is not None and setting not in settings:
                continue
            for seed in seeds if seeds is not None else self.seeds_of(setting):
                for game in self.games_of(setting):
                    if games is not None and game not in games:
                        continue
                    for arm in self.settings[setting].values():
                        if (arms is None or arm.name in arms) and game in self.games_of(setting, arm.name):
                            result.append(Run(setting, arm, game, int(seed), self.n_timesteps, self.checkpoint_freq))
        return result


def _require(mapping: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in mapping:
        raise StudyError(f"{where}: missing key {key!r}")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise StudyError(f"{where}: {key}={value!r} must be {getattr(kind, '__name__', kind)}")
    return value


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    """A ``seeds`` list of the study file: non-empty, distinct integers >= 0."""
    if (
        not isinstance(value, list)
        or not value
        or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in value)
        or len(set(value)) != len(value)
    ):
        raise StudyError(f"{where}: seeds={value!r} must be distinct integers >= 0")
    return tuple(value)


def _budgets(value: Any, n_timesteps: int, where: str) -> tuple[int, ...]:
    """A setting's ``score_at``: distinct agent-step budgets in [1, n_timesteps), increasing."""
    if (
        not isinstance(value, list)
        or not value
        or any(not isinstance(v, int) or isinstance(v, bool) or not 1 <= v < n_timesteps for v in value)
        or sorted(set(value)) != value
    ):
        raise StudyError(
            f"{where}: score_at={value!r} must be a non-empty increasing list of distinct integers in "
            f"[1, {n_timesteps}) (agent steps before the runs' end, n_timesteps)"
        )
    return tuple(value)


def _games(value: Any, allowed: Sequence[str], where: str, of: str) -> tuple[str, ...]:
    """A ``games`` list of the study file: non-empty, distinct, each one of ``allowed`` (the games of ``of``)."""
    if (
        not isinstance(value, list)
        or not value
        or any(not isinstance(game, str) or game not in allowed for game in value)
        or len(set(value)) != len(value)
    ):
        raise StudyError(f"{where}: games={value!r} must be a non-empty list of distinct games of {of}: {list(allowed)}")
    return tuple(value)


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
    _seeds(seeds, where)
    if any(not isinstance(game, str) for game in games) or len(set(games)) != len(games):
        raise StudyError(f"{where}: games={games!r} must be distinct gymnasium ids")
    settings: dict[str, dict[str, Arm]] = {}
    setting_games: dict[str, tuple[str, ...]] = {}
    setting_seeds: dict[str, tuple[int, ...]] = {}
    setting_score_at: dict[str, tuple[int, ...]] = {}
    for setting, arms in _require(data, "settings", dict, where).items():
        arms = dict(arms) if isinstance(arms, dict) else arms
        if isinstance(arms, dict) and "games" in arms:
            setting_games[setting] = _games(arms.pop("games"), games, f"{where}: settings.{setting}", "the study")
        if isinstance(arms, dict) and "seeds" in arms:
            setting_seeds[setting] = _seeds(arms.pop("seeds"), f"{where}: settings.{setting}")
        if isinstance(arms, dict) and "score_at" in arms:
            setting_score_at[setting] = _budgets(arms.pop("score_at"), n_timesteps, f"{where}: settings.{setting}")
        if not isinstance(arms, dict) or not arms:
            raise StudyError(
                f"{where}: settings.{setting} must map arm names to {{algo, conf, params}} (and games, seeds, score_at)"
            )
        settings[setting] = {}
        for arm_name, spec in arms.items():
            arm_where = f"{where}: settings.{setting}.{arm_name}"
            if not isinstance(spec, dict):
                raise StudyError(f"{arm_where} must be a mapping with algo and conf")
            unknown = sorted(str(key) for key in spec if key not in ARM_KEYS)
            if unknown:
                raise StudyError(f"{arm_where}: unknown key(s) {unknown}; allowed: {list(ARM_KEYS)}")
            conf = path.parent / _require(spec, "conf", str, arm_where)
            if not conf.is_file():
                raise StudyError(f"{arm_where}: conf {str(conf)!r} does not exist")
            params = spec.get("params") or {}
            if not isinstance(params, dict):
                raise StudyError(f"{arm_where}: params must be a mapping")
            own = setting_games.get(setting, tuple(games))
            arm_games = _games(spec["games"], own, arm_where, f"settings.{setting}") if "games" in spec else ()
            settings[setting][arm_name] = Arm(arm_name, _require(spec, "algo", str, arm_where), conf, dict(params), arm_games)
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
    study = Study(
        path=path,
        n_timesteps=n_timesteps,
        seeds=tuple(seeds),
        games=tuple(games),
        settings=settings,
        order=tuple(order),
        reference_arm=(reference["setting"], reference["arm"]),
        checkpoint_freq=checkpoint_freq,
        setting_games=setting_games,
        setting_seeds=setting_seeds,
        setting_score_at=setting_score_at,
    )
    reference_games = study.games_of(*study.reference_arm)
    if reference_games != study.games:  # every score is normalized by the reference arm's score of its game
        raise StudyError(
            f"{where}: reference_arm {'/'.join(study.reference_arm)} plays {list(reference_games)}, but must play every "
            f"game of the study: {list(study.games)}"
        )
    return study


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
