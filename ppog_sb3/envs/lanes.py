"""Envs in lanes: :class:`LanedVecEnv`, one SB3 ``VecEnv`` made of several, each of which PPOG's rollout can step on
a thread of its own.

``make_atari_vec_env("SpaceInvaders", n_envs=8, seed=0, lanes=2)`` builds two 4-env C++ envs of one C++ thread each
behind this class. As a ``VecEnv`` it is the 8-env env (every method works on all lanes; env ``i`` is seeded with
``seed + i`` as before); PPOG (``rollout_thread="auto"`` or ``"lanes"``) steps each lane on a Python thread of its own
with its own share of torch's threads, without waiting for the other lanes between steps
(:mod:`ppog_sb3.common.lane_rollout` says what that changes and why it is faster on a CPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

__all__ = ["LanedVecEnv"]


class LanedVecEnv(VecEnv):
    """The ``VecEnv`` of ``lanes`` (a list of ``VecEnv`` with the same spaces, at least 2): env ``i`` of this env is
    env ``i - offset`` of the lane that holds it, the lanes in order. Observations must be arrays (not dicts)."""

    def __init__(self, lanes: Sequence[VecEnv]) -> None:
        lanes = list(lanes)
        if len(lanes) < 2 or not all(isinstance(lane, VecEnv) for lane in lanes):
            raise ValueError(f"lanes={lanes!r} is not allowed; allowed values: a list of at least 2 VecEnvs")
        first = lanes[0]
        for lane in lanes[1:]:
            if lane.observation_space != first.observation_space or lane.action_space != first.action_space:
                raise ValueError(
                    f"lanes={lanes!r} is not allowed; allowed values: VecEnvs with the same observation and action "
                    f"spaces (got {lane.observation_space}, {lane.action_space} beside {first.observation_space}, "
                    f"{first.action_space})"
                )
        if isinstance(first.observation_space, gym.spaces.Dict | gym.spaces.Tuple):
            raise ValueError(f"lanes={lanes!r} is not allowed; allowed values: VecEnvs with array observations")
        self.lanes = lanes
        sizes = [lane.num_envs for lane in lanes]
        #: index of each lane's first env in this env
        self.offsets = [int(v) for v in np.cumsum([0, *sizes[:-1]])]
        super().__init__(sum(sizes), first.observation_space, first.action_space)
        self.render_mode = getattr(first, "render_mode", None)
        if "autoreset_mode" in getattr(first, "metadata", {}):  # gymnasium.make_vec reads it (AtariVecEnv's)
            self.metadata = {**self.metadata, "autoreset_mode": first.metadata["autoreset_mode"]}
        for name in ("stacked_frames", "options", "num_threads", "t_start"):  # AtariVecEnv's, for PPOG and the zoo
            if hasattr(first, name):
                setattr(self, name, getattr(first, name))

    # ------------------------------------------------------------------ splitting by lane
    def split(self, values: Any) -> list[Any]:
        """``values`` (one per env, on the first axis) cut into each lane's part."""
        return [values[offset : offset + lane.num_envs] for offset, lane in zip(self.offsets, self.lanes, strict=True)]

    def _lane_indices(self, indices: VecEnvIndices) -> list[tuple[VecEnv, list[int]]]:
        """``indices`` of this env as (lane, the lane's own indices) pairs, in the order given."""
        found: list[tuple[VecEnv, list[int]]] = []
        for i in self._get_indices(indices):
            if not 0 <= i < self.num_envs:
                raise IndexError(f"env index {i} is out of range; allowed values: 0 to {self.num_envs - 1}")
            lane_index = int(np.searchsorted(self.offsets, i, side="right")) - 1
            lane = self.lanes[lane_index]
            if found and found[-1][0] is lane:
                found[-1][1].append(i - self.offsets[lane_index])
            else:
                found.append((lane, [i - self.offsets[lane_index]]))
        return found

    # ------------------------------------------------------------------ core VecEnv API
    def reset(self) -> VecEnvObs:
        for lane, seeds, options in zip(self.lanes, self.split(self._seeds), self.split(self._options), strict=True):
            for i, (seed, option) in enumerate(zip(seeds, options, strict=True)):
                lane._seeds[i], lane._options[i] = seed, option
        obs = [lane.reset() for lane in self.lanes]
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [info for lane in self.lanes for info in lane.reset_infos]
        return np.concatenate(obs)  # type: ignore[arg-type]

    def step_async(self, actions: np.ndarray) -> None:
        actions = np.asarray(actions)
        if actions.shape[:1] != (self.num_envs,):
            raise ValueError(
                f"actions={actions!r} is not allowed; allowed values: an array of {self.num_envs} actions (one per env)"
            )
        for lane, part in zip(self.lanes, self.split(actions), strict=True):
            lane.step_async(part)

    def step_wait(self) -> VecEnvStepReturn:
        results = [lane.step_wait() for lane in self.lanes]
        obs, rewards, dones = (np.concatenate([result[k] for result in results]) for k in range(3))
        infos = [info for result in results for info in result[3]]
        return obs, rewards, dones, infos

    def close(self) -> None:
        for lane in self.lanes:
            lane.close()

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Env ``i`` seeded with ``seed + i`` at the next ``reset()``, as one env of ``num_envs`` would be (each lane's
        ``seed`` checks the value; ``reset`` hands each lane its part of this env's seeds and options)."""
        seeds = [
            lane.seed(None if seed is None else seed + offset) for lane, offset in zip(self.lanes, self.offsets, strict=True)
        ]
        super().seed(seed)
        return [s for lane_seeds in seeds for s in lane_seeds]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [image for lane in self.lanes for image in lane.get_images()]

    # ------------------------------------------------------------------ attributes
    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [value for lane, own in self._lane_indices(indices) for value in lane.get_attr(attr_name, own)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for lane, own in self._lane_indices(indices):
            lane.set_attr(attr_name, value, own)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        return [
            value
            for lane, own in self._lane_indices(indices)
            for value in lane.env_method(method_name, *method_args, indices=own, **method_kwargs)
        ]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [value for lane, own in self._lane_indices(indices) for value in lane.env_is_wrapped(wrapper_class, own)]

    def __repr__(self) -> str:
        return f"LanedVecEnv({self.lanes!r})"
