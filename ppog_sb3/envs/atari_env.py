"""Single-env ``entry_point`` of the ``ppog/<Game>-v5`` ids: one ALE env with SB3's Atari wrappers, stacked
channel-first, and the vector path's game-level episode statistics (wrapper order and caveats: ``docs/fast_atari.md``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal, SupportsFloat, cast

import gymnasium as gym
from gymnasium.wrappers import FrameStackObservation, ReshapeObservation
from stable_baselines3.common.atari_wrappers import (
    ClipRewardEnv,
    EpisodicLifeEnv,
    FireResetEnv,
    MaxAndSkipEnv,
    NoopResetEnv,
    WarpFrame,
)
from stable_baselines3.common.monitor import Monitor

if TYPE_CHECKING:
    from ale_py.env import AtariEnv

from ppog_sb3.envs.options import AtariOptions, check_render_mode, make_options, max_game_steps_renamed

__all__ = ["AtariGameMonitor", "PreprocessedAtariEnv"]


class _GameScoreTracker(gym.Wrapper):
    """Innermost wrapper: sums the raw reward of every frame of the current game and counts agent steps.

    Only a real game reset reaches its ``reset()`` (``EpisodicLifeEnv`` steps instead of resetting after a life loss),
    so ``score`` covers all lives, including the frames played inside the wrappers' resets (no-ops, FIRE).
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.score = 0.0
        self.agent_steps = 0  # incremented by AtariGameMonitor, the outermost wrapper
        self.game_over = False

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self.score = 0.0
        self.agent_steps = 0
        self.game_over = False
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.score += float(reward)
        if terminated or truncated:
            self.game_over = True
            info["game_over"] = True
        return obs, reward, terminated, truncated, info


class AtariGameMonitor(Monitor):
    """Outermost wrapper: ``info["episode"]`` once per *game* (unclipped score over all lives, agent steps).

    A ``Monitor`` subclass, so SB3 does not add its own (per-life) ``Monitor`` on top; ``filename`` writes the usual
    monitor CSV, one row per game.
    """

    def __init__(self, env: gym.Env, tracker: _GameScoreTracker, filename: str | None = None) -> None:
        super().__init__(env, filename=filename, allow_early_resets=True)
        self._tracker = tracker
        self._seen_score = 0.0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self.needs_reset = False
        obs, info = self.env.reset(**kwargs)
        if self._tracker.agent_steps == 0:  # a new game (not the hidden steps EpisodicLifeEnv plays after a life loss)
            self._seen_score = 0.0  # rewards of the reset frames go into the next step's raw_reward: they sum to "r"
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if self.needs_reset:
            raise RuntimeError("Tried to step environment that needs reset")
        obs, reward, terminated, truncated, info = self.env.step(action)
        tracker = self._tracker
        tracker.agent_steps += 1
        self.total_steps += 1
        info["raw_reward"] = tracker.score - self._seen_score
        self._seen_score = tracker.score
        if terminated or truncated:
            self.needs_reset = True
        if info.pop("game_over", False) or tracker.game_over:
            ep_info = {
                "r": round(tracker.score, 6),
                "l": tracker.agent_steps,
                "t": round(time.time() - self.t_start, 6),
            }
            self.episode_returns.append(tracker.score)
            self.episode_lengths.append(tracker.agent_steps)
            self.episode_times.append(time.time() - self.t_start)
            if self.results_writer:
                self.results_writer.write_row(ep_info)
            info["episode"] = ep_info
            tracker.game_over = False  # report each game once
        return obs, reward, terminated, truncated, info


class PreprocessedAtariEnv(gym.Wrapper):
    """One ALE game with SB3 ``AtariWrapper`` + 4-frame-stack preprocessing, channel-first (see the module docstring).

    Options: the preprocessing options of :class:`~ppog_sb3.envs.options.AtariOptions` (those of
    ``make_atari_vec_env``: same names, same defaults), with ``max_game_steps`` for its ``max_episode_steps``
    (gymnasium's ``make`` takes that name for itself), ``render_mode`` (``None``, ``"rgb_array"``, ``"human"``:
    full-resolution ALE rendering) and ``monitor_file`` (a monitor CSV path).
    """

    def __init__(
        self,
        game: str = "SpaceInvaders",
        *,
        render_mode: str | None = None,
        monitor_file: str | None = None,
        **preprocessing: Any,
    ) -> None:
        from ale_py.env import AtariEnv

        options = make_options(game, **max_game_steps_renamed(preprocessing))
        self.options: AtariOptions = options
        env: gym.Env = AtariEnv(
            game=options.game,
            frameskip=1,
            repeat_action_probability=options.repeat_action_probability,
            full_action_space=options.full_action_space,
            max_num_frames_per_episode=options.max_num_frames_per_episode,
            render_mode=cast(Literal["human", "rgb_array"] | None, check_render_mode(render_mode, vector=False)),
        )
        tracker = _GameScoreTracker(env)
        env = tracker
        if options.noop_max > 0:
            env = NoopResetEnv(env, noop_max=options.noop_max)
        if options.frame_skip > 1:
            env = MaxAndSkipEnv(env, skip=options.frame_skip)
        if options.terminal_on_life_loss:
            env = EpisodicLifeEnv(env)
        if options.use_fire_reset and "FIRE" in cast(AtariEnv, env.unwrapped).get_action_meanings():
            env = FireResetEnv(env)
        env = WarpFrame(env, width=options.screen_size, height=options.screen_size)
        if options.clip_reward:
            env = ClipRewardEnv(env)
        env = FrameStackObservation(env, options.frame_stack, padding_type="zero")
        env = ReshapeObservation(env, (options.frame_stack, options.screen_size, options.screen_size))
        env = AtariGameMonitor(env, tracker, filename=monitor_file)
        super().__init__(env)

    def get_action_meanings(self) -> list[str]:
        return cast("AtariEnv", self.env.unwrapped).get_action_meanings()
