"""The zoo's envs for the plugin's ``ppog/<Game>-v5`` ids: one C++ vector env with a game-level monitor CSV
(:class:`GameVecMonitor`). What the zoo's config keys mean for these ids: ``docs/fast_atari.md``.
"""

from __future__ import annotations

import inspect
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium as gym
from rl_zoo3.utils import create_test_env as zoo_create_test_env  # bound now: record_video's seam replaces the name
from stable_baselines3.common.monitor import ResultsWriter
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor, VecNormalize
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from ppog_sb3.envs import is_plugin_id
from ppog_sb3.envs.options import OPTION_NAMES
from ppog_sb3.zoo.errors import ZooError

#: Monitor file of a training run on the fast path (``<run folder>/0.monitor.csv``, as the zoo's first env's).
MONITOR_NAME = "0"

#: Keys of ``env_kwargs`` that are not env options, and where their value comes from instead.
RESERVED_ENV_KWARGS = {
    "game": "the env id names the game",
    "n_envs": "set n_envs in the config or with -params n_envs:N",
    "num_envs": "set n_envs in the config or with -params n_envs:N",
    "seed": "use --seed",
}


# ---------------------------------------------------------------------- options
def accepted_env_kwargs() -> list[str]:
    """The env options a ``ppog/`` id takes from ``env_kwargs``: the preprocessing options, ``make_atari_vec_env``'s
    own keywords (``num_threads``, ``render_mode``) and the single env's ``max_game_steps``."""
    from ppog_sb3.envs.atari_vec_env import make_atari_vec_env

    params = inspect.signature(make_atari_vec_env).parameters
    own = [name for name, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    return sorted([*OPTION_NAMES, *own, "max_game_steps"])


def fast_env_options(env_id: str, env_kwargs: dict[str, Any] | None, frame_stack: Any = None) -> dict[str, Any]:
    """The options of the C++ env from the zoo's ``env_kwargs`` and config ``frame_stack`` (checked; see the docstring)."""
    options = dict(env_kwargs or {})
    for key in sorted(options):
        if key in RESERVED_ENV_KWARGS:
            raise ZooError(f"env_kwargs '{key}' is not allowed for {env_id}: {RESERVED_ENV_KWARGS[key]}")
    accepted = accepted_env_kwargs()
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ZooError(
            f"env_kwargs {', '.join(repr(k) for k in unknown)} not accepted by {env_id} (ale-py's C++ vector env); "
            f"accepted: {', '.join(accepted)}"
        )
    if frame_stack is not None:
        if "frame_stack" in options and options["frame_stack"] != frame_stack:
            raise ZooError(
                f"frame_stack={frame_stack!r} (config) conflicts with env_kwargs frame_stack={options['frame_stack']!r} "
                f"for {env_id}: both set the env's own frame stack; give one of them"
            )
        options["frame_stack"] = frame_stack
    return options


# ---------------------------------------------------------------------- monitor
class GameVecMonitor(VecMonitor):
    """SB3 monitor CSV of a ``VecEnv`` that reports its own ``info["episode"]`` (the fast Atari env: one per game).

    Unlike ``VecMonitor`` it neither sums rewards nor replaces ``info["episode"]``: each ``info["episode"]`` of the
    wrapped env becomes one CSV row (``r``, ``l``, ``t`` as given, plus ``info_keywords`` from the same info), and
    ``infos`` pass through unchanged. The header's ``t_start`` is the wrapped env's own (``AtariVecEnv.t_start``, the
    origin of its ``t``) when it has one, so ``load_results`` gets consistent wall-clock times. Being a
    ``VecMonitor`` subclass, ``evaluate_policy`` treats the env as monitored (episodes end at ``info["episode"]``).

    :param venv: the env (e.g. ``AtariVecEnv``)
    :param filename: monitor file (``ResultsWriter``'s rule: ``.monitor.csv`` is appended) or None for none
    :param info_keywords: extra ``info`` keys written as columns
    :param override_existing: False appends to an existing file
    :param time_offset: seconds added to every row's ``t`` (a resumed run's file continues its clock)
    """

    def __init__(
        self,
        venv: VecEnv,
        filename: str | None = None,
        info_keywords: tuple[str, ...] = (),
        override_existing: bool = True,
        time_offset: float = 0.0,
    ) -> None:
        self.time_offset = float(time_offset)
        with warnings.catch_warnings():
            # The fast env reports env_is_wrapped(Monitor) == True (it emits Monitor-style info["episode"]), and
            # VecMonitor warns that it would overwrite those statistics: this subclass keeps them.
            warnings.filterwarnings("ignore", message=".*already wrapped with a `Monitor`.*")
            super().__init__(venv, filename=None, info_keywords=info_keywords)
        own_start = getattr(venv.unwrapped, "t_start", None)
        self._episode_has_time = isinstance(own_start, (int, float))
        if isinstance(own_start, (int, float)):
            self.t_start = float(own_start)
        spec = getattr(venv.unwrapped, "spec", None) or getattr(venv, "spec", None)
        env_id = getattr(spec, "id", None)
        if filename:
            self.results_writer = ResultsWriter(
                filename,
                header={"t_start": self.t_start, "env_id": str(env_id)},
                extra_keys=tuple(info_keywords),
                override_existing=override_existing,
            )

    def reset(self) -> VecEnvObs:
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        self.observe_step(obs, rewards, dones, infos)
        return obs, rewards, dones, infos

    def observe_step(self, obs: VecEnvObs, rewards: Any, dones: Any, infos: list[dict[str, Any]]) -> None:
        """One CSV row per ``info["episode"]`` of a step; also called by PPOG's rollout in lanes, which steps the
        env under this monitor directly (``ppog_sb3.common.lane_rollout.find_lanes``)."""
        for info in infos:
            episode = info.get("episode")
            if episode is None:
                continue
            self.episode_count += 1
            if self.results_writer is None:
                continue
            t = episode.get("t") if self._episode_has_time else None
            t = time.time() - self.t_start if t is None else t
            row = {"r": episode["r"], "l": episode["l"], "t": round(t + self.time_offset, 6)}
            for key in self.info_keywords:
                row[key] = info[key]
            self.results_writer.write_row(row)


# ---------------------------------------------------------------------- builders
def make_fast_vec_env(
    env_id: str,
    n_envs: int,
    seed: int | None,
    options: dict[str, Any],
    *,
    monitor_file: str | None = None,
    info_keywords: tuple[str, ...] = (),
    override_existing: bool = True,
    time_offset: float = 0.0,
) -> GameVecMonitor:
    """``gym.make_vec(env_id, ..., vectorization_mode="vector_entry_point")`` in a :class:`GameVecMonitor`
    (``override_existing=False`` and ``time_offset``: a resumed run's monitor file continues)."""
    try:
        venv = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point", seed=seed, **options)
    except ValueError as error:  # the plugin's option checks: "<name>=<value> is not allowed; allowed values: ..."
        raise ZooError(f"invalid env options for {env_id}: {' '.join(str(error).split())}") from error
    if not isinstance(venv, VecEnv):  # the plugin's vector entry point returns an SB3 VecEnv
        raise ZooError(f"{env_id}'s vector entry point returned a {type(venv).__name__}, not a stable-baselines3 VecEnv")
    return GameVecMonitor(
        venv,
        filename=monitor_file,
        info_keywords=tuple(info_keywords),
        override_existing=override_existing,
        time_offset=time_offset,
    )


def make_single_envs(
    env_id: str, n_envs: int, seed: int | None, options: dict[str, Any], *, render_mode: str, log_dir: str | None = None
) -> DummyVecEnv:
    """``n_envs`` single envs of the id (``gym.make``: full-resolution ``"human"`` rendering) in a ``DummyVecEnv``.

    No extra ``Monitor``: the single env's own ``AtariGameMonitor`` reports game-level ``info["episode"]`` (and
    writes ``<log_dir>/<i>.monitor.csv`` when ``log_dir`` is given).
    """
    kwargs = dict(options)
    kwargs.pop("num_threads", None)  # a C++ vector env option
    if "max_episode_steps" in kwargs:  # gym.make() takes that name for itself: the env calls it max_game_steps
        kwargs["max_game_steps"] = kwargs.pop("max_episode_steps")
    spec = gym.spec(env_id)

    def maker(rank: int) -> Callable[[], gym.Env]:
        monitor_file = os.path.join(log_dir, str(rank)) if log_dir else None
        return lambda: spec.make(render_mode=render_mode, monitor_file=monitor_file, **kwargs)

    try:
        venv = DummyVecEnv([maker(rank) for rank in range(n_envs)])
    except ValueError as error:
        raise ZooError(f"invalid env options for {env_id}: {' '.join(str(error).split())}") from error
    venv.seed(seed)
    return venv


def check_no_env_wrapper(env_id: str, env_wrapper: Any) -> None:
    if env_wrapper:
        raise ZooError(
            f"env_wrapper is not supported for {env_id}: its sub-envs live in ale-py's C++ vector env, which already "
            "applies the Atari preprocessing (options: env_kwargs; a VecEnv wrapper: vec_env_wrapper)"
        )


def check_normalize(env_id: str, normalize: Any, normalize_kwargs: dict[str, Any] | None) -> None:
    """Reward normalisation only (see the module docstring)."""
    if not normalize:
        return
    if (normalize_kwargs or {}).get("norm_obs", True):
        raise ZooError(
            f"normalize: observation normalisation is not supported for {env_id} (uint8 frames are the policy's image "
            'input); normalize rewards only with normalize: "dict(norm_obs=False, norm_reward=True)"'
        )


def create_test_env(
    env_id: str,
    n_envs: int = 1,
    stats_path: str | None = None,
    seed: int = 0,
    log_dir: str | None = None,
    should_render: bool = True,
    hyperparams: dict[str, Any] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    vec_env_cls: type[VecEnv] | None = None,
    vec_env_kwargs: dict[str, Any] | None = None,
) -> VecEnv:
    """``rl_zoo3.utils.create_test_env`` (``enjoy``, ``record_video``) with the fast path for ``ppog/`` ids.

    Other ids go to the zoo's own function, unchanged. For ``ppog/`` ids: the saved config's ``frame_stack`` is the
    env option (no ``VecFrameStack``), ``normalize`` loads the saved ``VecNormalize`` statistics as the zoo does,
    ``log_dir`` (``enjoy --reward-log``) gets the game-level monitor CSV, and ``render_mode="human"`` uses the single
    env (module docstring).
    """
    if not is_plugin_id(env_id):
        return zoo_create_test_env(
            env_id,
            n_envs=n_envs,
            stats_path=stats_path,
            seed=seed,
            log_dir=log_dir,
            should_render=should_render,
            hyperparams=hyperparams,
            env_kwargs=env_kwargs,
            vec_env_cls=vec_env_cls,
            vec_env_kwargs=vec_env_kwargs,
        )
    hyperparams = dict(hyperparams or {})
    check_no_env_wrapper(env_id, hyperparams.get("env_wrapper"))
    kwargs = dict(env_kwargs or {})
    render_mode = kwargs.pop("render_mode", "human" if should_render else None)
    options = fast_env_options(env_id, kwargs, hyperparams.get("frame_stack"))
    options.pop("lanes", None)  # lanes are for PPOG's training rollouts; enjoy and record_video step one env
    if render_mode == "human":
        print(f"Rendering {env_id} with its single-env entry point (ale-py's C++ vector env has no window)")
        env: VecEnv = make_single_envs(env_id, n_envs, seed, options, render_mode="human", log_dir=log_dir)
    else:
        if render_mode is not None:
            options["render_mode"] = render_mode
        monitor_file = os.path.join(log_dir, MONITOR_NAME) if log_dir else None
        env = make_fast_vec_env(env_id, n_envs, seed, options, monitor_file=monitor_file)

    if hyperparams.get("vec_env_wrapper"):
        from rl_zoo3.utils import get_wrapper_class

        vec_env_wrapper = get_wrapper_class(hyperparams, "vec_env_wrapper")
        assert vec_env_wrapper is not None
        env = vec_env_wrapper(env)  # type: ignore[assignment, arg-type]
    if stats_path is not None and hyperparams.get("normalize"):
        check_normalize(env_id, hyperparams["normalize"], hyperparams.get("normalize_kwargs"))
        print("Loading running average")
        print(f"with params: {hyperparams.get('normalize_kwargs')}")
        path = os.path.join(stats_path, "vecnormalize.pkl")
        if not os.path.exists(path):
            raise ZooError(f"VecNormalize stats {path} not found")
        env = VecNormalize.load(path, env)
        env.training = False
        env.norm_reward = False
    return env
