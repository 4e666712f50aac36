"""Fast vectorized Atari for SB3: ale-py's C++ ``AtariVectorEnv`` behind a real ``stable_baselines3`` ``VecEnv``.

``make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0)``: channel-first ``uint8`` ``(n_envs, 4, 84, 84)``
observations with the preprocessing of SB3's ``make_atari_env`` + ``VecFrameStack(4)`` done in C++ threads, life-loss
``done``s, and a game-level ``info["episode"]``. How the adapter drives the C++ env and the differences from SB3's
pipeline that remain: ``docs/fast_atari.md``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

from ppog_sb3.envs.lanes import LanedVecEnv
from ppog_sb3.envs.options import AtariOptions, check_int, check_render_mode, make_options, max_game_steps_renamed

__all__ = ["AtariVecEnv", "make_atari_vec_env", "make_vector_env"]

_SEED_MODULUS = 2**31  # the C++ reset takes non-negative C ints (-1 means "keep the current RNG")
_NO_BOUNDARY = np.iinfo(np.int64).max // 2


class AtariVecEnv(VecEnv):
    """SB3 ``VecEnv`` over ale-py's C++ ``AtariVectorEnv``; build it with ``make_atari_vec_env``.

    Per step, ``infos[i]`` holds ``"lives"`` and ``"raw_reward"`` (the unclipped reward of that step); on a done also
    ``"terminal_observation"`` and ``"TimeLimit.truncated"``; at the end of a game also ``"episode"``.

    ``get_attr`` answers the preprocessing options (``"game"``, ``"frame_skip"``...), ``"render_mode"``,
    ``"observation_space"``/``"action_space"`` (per env) and ``"lives"``; ``env_method`` answers
    ``"get_action_meanings"`` and ``"get_wrapper_attr"``. ``set_attr`` raises: every option is fixed when the C++
    env is built.

    ``env_is_wrapped(Monitor)`` is True: the adapter already emits Monitor-style game-level ``info["episode"]``, so
    ``evaluate_policy`` reads real game scores from it, and SB3's ``VecMonitor`` warns when wrapped around it. Do not
    wrap it in ``VecMonitor``: that would replace the game-level episode info by per-life, clipped-reward statistics
    (every life loss is a ``done``). The adapter's ``info["episode"]`` is the authoritative one.
    """

    observation_space: spaces.Box
    action_space: spaces.Discrete
    #: frames per observation, stacked on the channel axis and zero-padded after every done (``VecFrameStack``'s
    #: stacks): PPOG's default buffer on this env stores each frame once (``FrameStackRolloutBuffer``)
    stacked_frames: int

    def __init__(
        self,
        options: AtariOptions,
        n_envs: int,
        *,
        num_threads: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        import ale_py
        from ale_py.vector_env import AtariVectorEnv

        n_envs = check_int("n_envs", n_envs, 1)
        num_threads = check_int("num_threads", num_threads, 1, allow_none=True)
        self.options = options
        self.stacked_frames = options.frame_stack
        self.render_mode = check_render_mode(render_mode, vector=True)
        self._closed = True  # until the C++ env exists
        self._vec = AtariVectorEnv(
            options.game,
            n_envs,
            num_threads=num_threads or 0,  # 0: min(n_envs, hardware threads)
            max_num_frames_per_episode=options.max_num_frames_per_episode,
            repeat_action_probability=options.repeat_action_probability,
            full_action_space=options.full_action_space,
            autoreset_mode="SameStep",
            img_height=options.screen_size,
            img_width=options.screen_size,
            grayscale=True,
            stack_num=options.frame_stack,
            frameskip=options.frame_skip,
            maxpool=True,
            noop_max=options.noop_max,
            episodic_life=False,
            life_loss_info=False,
            reward_clipping=False,
            use_fire_reset=options.use_fire_reset,
        )
        self._ale = self._vec.ale
        self._closed = False
        # Same spelling as ale_py.env.AtariEnv.get_action_meanings(): the ale_py.Action member names.
        names = {action: name for name, action in ale_py.Action.__members__.items()}
        self._action_meanings = [names[a] for a in self._ale.get_action_set()]
        self.num_threads = num_threads
        single_obs_space = spaces.Box(0, 255, (options.frame_stack, options.screen_size, options.screen_size), dtype=np.uint8)
        single_action_space = spaces.Discrete(len(self._action_meanings))
        self._paddle_strength = np.ones(n_envs, dtype=np.float32)
        self._actions: np.ndarray | None = None
        self._obs: np.ndarray | None = None
        self._lives = np.zeros(n_envs, dtype=np.int64)
        self._returns = np.zeros(n_envs, dtype=np.float64)
        self._lengths = np.zeros(n_envs, dtype=np.int64)
        # Agent steps since the last life-loss "done" (for the VecFrameStack-like zero padding); _NO_BOUNDARY when the
        # C++ stack itself was cleared (game reset).
        self._since_boundary = np.full(n_envs, _NO_BOUNDARY, dtype=np.int64)
        self.t_start = time.time()
        super().__init__(n_envs, single_obs_space, single_action_space)
        # gymnasium.make_vec() reads this; SB3 VecEnvs reset a finished env inside the same step.
        cast(dict[str, Any], self.metadata)["autoreset_mode"] = gym.vector.AutoresetMode.SAME_STEP

    # ------------------------------------------------------------------ gymnasium-vector-style aliases
    @property
    def single_observation_space(self) -> spaces.Box:
        return self.observation_space

    @property
    def single_action_space(self) -> spaces.Discrete:
        return self.action_space

    # ------------------------------------------------------------------ core VecEnv API
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("AtariVecEnv is closed; create a new one with make_atari_vec_env(...)")

    def reset(self) -> VecEnvObs:
        self._check_open()
        if any(self._options):
            raise ValueError(
                f"reset options {self._options!r} are not supported by AtariVecEnv (ale-py's C++ env takes none); "
                "allowed values: no options (set_options(None))"
            )
        if self._actions is not None:  # a step_async is pending: collect it so the C++ queue stays consistent
            self._ale.recv()
            self._actions = None
        seeds = np.array([-1 if s is None else int(s) % _SEED_MODULUS for s in self._seeds], dtype=np.int64)
        obs, info = self._ale.reset(np.arange(self.num_envs), seeds)
        self._reset_seeds()
        self._reset_options()
        self._lives = np.asarray(info["lives"], dtype=np.int64).copy()
        self._returns[:] = 0.0
        self._lengths[:] = 0
        self._since_boundary[:] = _NO_BOUNDARY
        self.reset_infos = [{"lives": int(lives)} for lives in self._lives]
        self._obs = obs
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._check_open()
        if self._actions is not None:
            raise RuntimeError("step_async() called twice without step_wait()")
        if self._obs is None:
            raise RuntimeError("AtariVecEnv: call reset() before stepping")
        actions = np.asarray(actions)
        # dtype.kind and Python's min/max of a list: the same checks as np.issubdtype and ndarray.min/max, at a
        # fraction of their per-call cost (this runs at every step: py-spy --gil, docs/speed.md, 2026-12-04)
        kind = actions.dtype.kind
        if actions.size != self.num_envs or kind not in "iu":
            if actions.size == self.num_envs and kind == "f" and np.all(actions % 1 == 0):
                actions = actions.astype(np.int64)
            else:
                raise ValueError(
                    f"actions={actions!r} is not allowed; allowed values: {self.num_envs} integers "
                    f"in [0, {self.action_space.n - 1}]"
                )
        actions = actions.reshape(self.num_envs).astype(np.int64, copy=False)
        listed = actions.tolist()
        if min(listed) < 0 or max(listed) >= self.action_space.n:
            # Checked here: an out-of-range action makes the C++ worker throw and recv() would wait forever.
            raise ValueError(
                f"actions={actions.tolist()} is not allowed; allowed values: integers in [0, {self.action_space.n - 1}]"
            )
        self._ale.send(actions, self._paddle_strength)
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        self._check_open()
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async()")
        obs, raw, c_terminated, c_truncated, c_info = self._ale.recv()
        self._actions = None
        n_stack = self.options.frame_stack

        raw_rewards = np.asarray(raw, dtype=np.float32)
        lives = np.asarray(c_info["lives"], dtype=np.int64)
        game_over = np.logical_or(c_terminated, c_truncated)  # the C++ env reset these envs in this very step
        if self.options.terminal_on_life_loss:
            life_loss = ~game_over & (lives < self._lives) & (lives > 0)
        else:
            life_loss = np.zeros(self.num_envs, dtype=bool)
        dones = game_over | life_loss
        self._returns += raw_rewards
        self._lengths += 1
        rewards = np.sign(raw_rewards) if self.options.clip_reward else raw_rewards.copy()

        # VecFrameStack-like zero padding after a life-loss done: keep only the frames since that boundary.
        if n_stack > 1:
            self._since_boundary += 1
            for i in np.flatnonzero(self._since_boundary < n_stack - 1):
                if not game_over[i]:
                    obs[i, : n_stack - 1 - self._since_boundary[i]] = 0

        infos: list[dict[str, Any]] = [  # tolist(): Python ints and floats at once, not a numpy scalar per env
            {"lives": life, "raw_reward": reward} for life, reward in zip(lives.tolist(), raw_rewards.tolist(), strict=True)
        ]
        for i in np.flatnonzero(dones):
            info = infos[i]
            if game_over[i]:
                terminal_obs = np.array(c_info["final_obs"][i])
                if self._since_boundary[i] < n_stack - 1:
                    terminal_obs[: n_stack - 1 - self._since_boundary[i]] = 0
                info["terminal_observation"] = terminal_obs
                # (A life lost on the very step that hits the time limit reads as truncated here, since the C++ env
                # returns the new game's lives; SB3's EpisodicLifeEnv would call it terminated. Once per 27k steps.)
                info["TimeLimit.truncated"] = bool(c_truncated[i] and not c_terminated[i])
                info["episode"] = {
                    "r": round(float(self._returns[i]), 6),
                    "l": int(self._lengths[i]),
                    "t": round(time.time() - self.t_start, 6),
                }
                self._returns[i] = 0.0
                self._lengths[i] = 0
                self._since_boundary[i] = _NO_BOUNDARY
            else:
                info["terminal_observation"] = obs[i].copy()
                info["TimeLimit.truncated"] = False
                obs[i, : n_stack - 1] = 0
                self._since_boundary[i] = 0
        self._lives = lives.copy()
        self._obs = obs
        return obs, rewards, dones, infos

    def close(self) -> None:
        if self._closed:
            return
        if self._actions is not None:
            self._ale.recv()
            self._actions = None
        self._closed = True
        # The C++ vectorizer joins its worker threads in its destructor.
        del self._ale
        del self._vec

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seed env ``i`` with ``seed + i`` at the next ``reset()`` (SB3 convention); see the module docstring, 8."""
        if seed is not None:
            seed = check_int("seed", seed, 0)
        return super().seed(seed)

    # ------------------------------------------------------------------ rendering
    def get_images(self) -> Sequence[np.ndarray]:
        """The newest frame of each env's observation, as ``(screen_size, screen_size, 3)`` uint8 grey RGB.

        ale-py's C++ ``AtariVectorEnv`` exposes no full-resolution screen, so this is the agent's view.
        """
        self._check_open()
        if self._obs is None:
            raise RuntimeError("AtariVecEnv: call reset() before get_images()/render()")
        return [np.repeat(frame[-1][:, :, None], 3, axis=2) for frame in self._obs]

    def render(self, mode: str | None = None) -> np.ndarray | None:
        if mode not in (None, "rgb_array", "human"):
            check_render_mode(mode, vector=True)
        return super().render(mode)

    # ------------------------------------------------------------------ attributes
    def _attributes(self, index: int) -> dict[str, Any]:
        attrs = {name: getattr(self.options, name) for name in AtariOptions.__dataclass_fields__}
        attrs.update(
            render_mode=self.render_mode,
            observation_space=self.observation_space,
            action_space=self.action_space,
            lives=int(self._lives[index]),
            num_threads=self.num_threads,
        )
        return attrs

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        values = []
        for i in self._get_indices(indices):
            attrs = self._attributes(i)
            if attr_name not in attrs:
                raise AttributeError(
                    f"AtariVecEnv has no per-env attribute {attr_name!r} (the sub-envs live in ale-py's C++ "
                    f"AtariVectorEnv); available: {sorted(attrs)}"
                )
            values.append(attrs[attr_name])
        return values

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise AttributeError(
            f"AtariVecEnv cannot set {attr_name!r}: the sub-envs live in ale-py's C++ AtariVectorEnv, whose options "
            f"are fixed when it is built; create a new env with make_atari_vec_env(..., {attr_name}=...) instead"
        )

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        indices = list(self._get_indices(indices))
        if method_name == "get_action_meanings":
            return [list(self._action_meanings) for _ in indices]
        if method_name == "get_wrapper_attr":
            return self.get_attr(method_args[0], indices=indices)
        raise AttributeError(
            f"AtariVecEnv cannot call {method_name!r} on its sub-envs (they live in ale-py's C++ AtariVectorEnv); "
            "supported methods: ['get_action_meanings', 'get_wrapper_attr']"
        )

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        # The adapter does the Monitor's job (game-level info["episode"]); see the class docstring.
        wrapped = isinstance(wrapper_class, type) and issubclass(Monitor, wrapper_class)
        return [wrapped for _ in self._get_indices(indices)]

    def __repr__(self) -> str:
        return f"AtariVecEnv(game={self.options.game!r}, n_envs={self.num_envs}, options={self.options})"


def make_atari_vec_env(
    game: str = "SpaceInvaders",
    n_envs: int = 8,
    seed: int | None = None,
    *,
    num_threads: int | None = None,
    render_mode: str | None = None,
    lanes: int = 1,
    **options: Any,
) -> AtariVecEnv | LanedVecEnv:
    """Build the fast SB3 ``VecEnv`` for an ALE game (see the module docstring for what it does and how it differs).

    :param game: ALE game, e.g. ``"SpaceInvaders"`` or ``"space_invaders"`` (list: ``ppog_sb3.envs.list_games()``).
    :param n_envs: number of emulators (>= 1).
    :param seed: env ``i`` is seeded with ``seed + i`` at the first ``reset()`` (None: random).
    :param num_threads: C++ worker threads (None: ``min(n_envs, hardware threads)``).
    :param render_mode: None or ``"rgb_array"`` (the grey agent view, see ``AtariVecEnv.get_images``).
    :param lanes: 1 (the default): one C++ env. ``k > 1`` (a divisor of ``n_envs``): ``k`` C++ envs of
        ``n_envs / k`` emulators each, behind one :class:`~ppog_sb3.envs.lanes.LanedVecEnv`, each on its share of
        the C++ threads (``num_threads / k``; by default one each, at least one), env ``i`` still seeded with
        ``seed + i``. PPOG steps the lanes on threads of their own (``rollout_thread``: faster on a CPU, not bit
        for bit the one-env rollout; :mod:`ppog_sb3.common.lane_rollout`).
    :param options: the preprocessing options, by name (``frame_skip=4``, ``frame_stack=4``, ``screen_size=84``,
        ``noop_max=30``, ...): the fields of :class:`~ppog_sb3.envs.options.AtariOptions`, where each is defined
        with its default and meaning (ale-py's no-op draw: module docstring, 3).
    """
    checked = make_options(game, **options)
    n_envs = check_int("n_envs", n_envs, 1)
    if seed is not None:
        seed = check_int("seed", seed, 0)
    lanes = check_int("lanes", lanes, 1)
    if n_envs % lanes:
        raise ValueError(f"lanes={lanes!r} is not allowed with n_envs={n_envs}; allowed values: a divisor of n_envs")
    venv: AtariVecEnv | LanedVecEnv
    if lanes == 1:
        venv = AtariVecEnv(checked, n_envs, num_threads=num_threads, render_mode=render_mode)
    else:
        num_threads = check_int("num_threads", num_threads, 1, allow_none=True)
        per_lane = max(1, (num_threads or lanes) // lanes)
        venv = LanedVecEnv(
            [AtariVecEnv(checked, n_envs // lanes, num_threads=per_lane, render_mode=render_mode) for _ in range(lanes)]
        )
    if seed is not None:
        venv.seed(seed)
    return venv


def make_vector_env(num_envs: int = 1, game: str = "SpaceInvaders", **kwargs: Any) -> AtariVecEnv | LanedVecEnv:
    """``vector_entry_point`` of the ``ppog/<Game>-v5`` ids: ``gym.make_vec(id, num_envs=8, **kwargs)``.

    Returns the SB3 ``AtariVecEnv`` (SB3's ``VecEnv`` API: ``step()`` returns ``obs, rewards, dones, infos``), not a
    gymnasium ``VectorEnv``; ``kwargs`` are those of ``make_atari_vec_env`` (``seed`` included; ``max_game_steps``, the
    single env's name for the game-level limit, is accepted for ``max_episode_steps``).
    For a gymnasium-API vector env use ``gym.make_vec(id, num_envs, vectorization_mode="sync")``.
    """
    if "n_envs" in kwargs:
        raise ValueError(f"n_envs={kwargs['n_envs']!r} is not allowed here; allowed values: pass num_envs= instead")
    return make_atari_vec_env(game, n_envs=num_envs, **max_game_steps_renamed(kwargs))
