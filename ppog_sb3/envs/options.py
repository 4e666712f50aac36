"""Preprocessing options shared by the vector (fast) path and the single-env path, and their validation.

Names follow SB3's ``AtariWrapper`` where it has one (``frame_skip``, ``screen_size``, ``noop_max``,
``terminal_on_life_loss``, ``clip_reward``; its ``action_repeat_probability`` is accepted as an alias of ALE's
``repeat_action_probability``), ``VecFrameStack`` for ``frame_stack`` (SB3 calls it ``n_stack``), and ale-py for the
rest (``full_action_space``, ``use_fire_reset``).

Every bad value raises ``ValueError`` naming the option, the value and the allowed values.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, fields
from typing import Any, overload

import numpy as np

from ppog_sb3.envs.games import resolve_game

#: Default game-level time limit, in agent steps: 27,000 steps x 4 frames = 108,000 frames = 30 minutes of play, the
#: limit ale-py 0.12 puts on both ``ALE/*-v5`` and ``*NoFrameskip-v4`` (``max_num_frames_per_episode=108_000``; the
#: 400,000-frame ``max_episode_steps`` of old gym's NoFrameskip-v4 is gone in gymnasium 1.x / ale-py 0.12).
DEFAULT_MAX_EPISODE_STEPS = 27_000

# The C++ env counts the limit in frames in an ``int``; stay far from INT_MAX (it computes ``limit + 1``).
_MAX_FRAMES = 2**30

RENDER_MODES = (None, "rgb_array")


@dataclass(frozen=True)
class AtariOptions:
    """The preprocessing options, validated: their one definition (names, defaults); build them with :func:`make_options`.

    :param game: ALE ROM id, e.g. ``"space_invaders"``
    :param frame_skip: agent step = ``frame_skip`` frames with the same action, max-pooled over the last 2
    :param frame_stack: frames stacked on the channel axis (``VecFrameStack``'s ``n_stack``)
    :param screen_size: side of the square grey frame
    :param noop_max: up to this many no-op frames at each game reset
    :param terminal_on_life_loss: ``done=True`` at each life loss (the game goes on)
    :param clip_reward: train on ``sign(reward)``; episode statistics always use the raw reward
    :param repeat_action_probability: ALE's sticky-action probability; ``action_repeat_probability`` (SB3
        ``AtariWrapper``'s name) is an alias
    :param max_episode_steps: game-level time limit in agent steps (27,000 = 108,000 frames; None: none)
    :param full_action_space: use all 18 actions instead of the game's minimal set
    :param use_fire_reset: press FIRE at each game reset for games that have it
    """

    game: str
    frame_skip: int = 4
    frame_stack: int = 4
    screen_size: int = 84
    noop_max: int = 30
    terminal_on_life_loss: bool = True
    clip_reward: bool = True
    repeat_action_probability: float = 0.0
    max_episode_steps: int | None = DEFAULT_MAX_EPISODE_STEPS
    full_action_space: bool = False
    use_fire_reset: bool = True

    @property
    def max_num_frames_per_episode(self) -> int:
        """The game-level limit in emulator frames, as ALE takes it."""
        if self.max_episode_steps is None:
            return _MAX_FRAMES
        return self.max_episode_steps * self.frame_skip


#: The options a caller passes by name: the fields of :class:`AtariOptions` but ``game``, and the alias.
OPTION_NAMES: tuple[str, ...] = (*(f.name for f in fields(AtariOptions) if f.name != "game"), "action_repeat_probability")
_DEFAULTS = {f.name: f.default for f in fields(AtariOptions) if f.name != "game"}


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@overload
def check_int(name: str, value: Any, minimum: int) -> int: ...
@overload
def check_int(name: str, value: Any, minimum: int, *, allow_none: bool) -> int | None: ...
def check_int(name: str, value: Any, minimum: int, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if not _is_int(value) or value < minimum:
        allowed = f"an int >= {minimum}" + (" or None" if allow_none else "")
        raise ValueError(f"{name}={value!r} is not allowed; allowed values: {allowed}")
    return int(value)


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_ | numbers.Integral) or value not in (0, 1):
        raise ValueError(f"{name}={value!r} is not allowed; allowed values: True or False")
    return bool(value)


def check_render_mode(render_mode: Any, *, vector: bool) -> str | None:
    allowed = RENDER_MODES if vector else (None, "rgb_array", "human")
    if render_mode not in allowed:
        extra = (
            " (ale-py's C++ AtariVectorEnv exposes no screen or window, only the preprocessed frames: 'rgb_array' renders "
            "that 84x84 grey agent view; for full-resolution or 'human' rendering use the single env, "
            "gym.make('ppog/<Game>-v5', render_mode='human'))"
            if vector
            else ""
        )
        raise ValueError(f"render_mode={render_mode!r} is not allowed; allowed values: {allowed}{extra}")
    return render_mode


def max_game_steps_renamed(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with ``max_game_steps``, the single env's name of the limit (``gym.make`` keeps ``max_episode_steps``
    for itself), under the option's own name ``max_episode_steps``."""
    options = dict(options)
    if "max_game_steps" in options:
        if "max_episode_steps" in options and options["max_episode_steps"] != options["max_game_steps"]:
            raise ValueError(
                f"max_game_steps={options['max_game_steps']!r} conflicts with max_episode_steps="
                f"{options['max_episode_steps']!r}; allowed values: give one of them (they are the same option)"
            )
        options["max_episode_steps"] = options.pop("max_game_steps")
    return options


def make_options(game: str, **options: Any) -> AtariOptions:
    """Validate ``options`` (:data:`OPTION_NAMES`, the others at their defaults) and return them as ``AtariOptions``."""
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(map(repr, unknown))}; allowed options: {', '.join(OPTION_NAMES)}")
    repeat_action_probability = options.pop("repeat_action_probability", None)
    action_repeat_probability = options.pop("action_repeat_probability", None)
    values = {**_DEFAULTS, **options}
    rom = resolve_game(game)
    frame_skip = check_int("frame_skip", values["frame_skip"], 1)
    frame_stack = check_int("frame_stack", values["frame_stack"], 1)
    screen_size = check_int("screen_size", values["screen_size"], 1)
    noop_max = check_int("noop_max", values["noop_max"], 0)
    max_episode_steps = check_int("max_episode_steps", values["max_episode_steps"], 1, allow_none=True)

    # Two spellings of sticky actions: ALE's (repeat_action_probability) and SB3 AtariWrapper's.
    if (
        repeat_action_probability is not None
        and action_repeat_probability is not None
        and repeat_action_probability != action_repeat_probability
    ):
        raise ValueError(
            f"repeat_action_probability={repeat_action_probability!r} conflicts with "
            f"action_repeat_probability={action_repeat_probability!r}: they are two names for the same option "
            "(ALE's and SB3 AtariWrapper's); allowed values: give one of them, or the same value for both"
        )
    sticky = repeat_action_probability if repeat_action_probability is not None else action_repeat_probability
    sticky = 0.0 if sticky is None else sticky
    if not isinstance(sticky, numbers.Real) or isinstance(sticky, bool) or not 0.0 <= float(sticky) <= 1.0:
        raise ValueError(f"repeat_action_probability={sticky!r} is not allowed; allowed values: a float in [0, 1]")

    if max_episode_steps is not None and max_episode_steps * frame_skip > _MAX_FRAMES:
        raise ValueError(
            f"max_episode_steps={max_episode_steps!r} is not allowed with frame_skip={frame_skip}: the limit is counted "
            f"in frames in a C int; allowed values: an int in [1, {_MAX_FRAMES // frame_skip}], or None for no limit"
        )
    # SB3 decides channels-first vs channels-last by the smallest dimension (is_image_space_channels_first): a stack
    # deeper than the frame is wide would be taken for channels-last and wrapped in VecTransposeImage.
    if frame_stack > screen_size:
        raise ValueError(
            f"frame_stack={frame_stack} conflicts with screen_size={screen_size}: observations are channel-first "
            f"({frame_stack}, {screen_size}, {screen_size}) and SB3 would read them as channels-last; "
            f"allowed values: frame_stack <= screen_size"
        )
    return AtariOptions(
        game=rom,
        frame_skip=frame_skip,
        frame_stack=frame_stack,
        screen_size=screen_size,
        noop_max=noop_max,
        terminal_on_life_loss=check_bool("terminal_on_life_loss", values["terminal_on_life_loss"]),
        clip_reward=check_bool("clip_reward", values["clip_reward"]),
        repeat_action_probability=float(sticky),
        max_episode_steps=max_episode_steps,
        full_action_space=check_bool("full_action_space", values["full_action_space"]),
        use_fire_reset=check_bool("use_fire_reset", values["use_fire_reset"]),
    )
