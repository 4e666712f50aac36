"""Checks of PPOG's constructor arguments, beside the algorithm.

Each check raises :class:`InvalidArgumentError`, which names the argument and the allowed values. The class is
both a ``ValueError`` (what a bad value is) and an ``AssertionError`` (what SB3's ``PPO`` raises for the same
mistakes, e.g. ``clip_range_vf <= 0`` or ``n_steps * n_envs == 1`` with advantage normalization), so code written
for PPO that catches ``AssertionError`` keeps working with PPOG.

Integral arguments accept every integral type (``int``, ``np.int64``, ... as YAML configs and Optuna produce
them) and are returned as ``int``; ``bool`` is rejected, as it is an ``int`` by accident only.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space

from ppog_sb3.common.buffers import ADVANTAGE_ESTIMATORS, PPOGDictRolloutBuffer, PPOGRolloutBuffer
from ppog_sb3.common.losses import POLICY_LOSSES
from ppog_sb3.common.schedules import parse_schedule

SUPPORTED_ACTION_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)

#: ``precision`` values: float32, bfloat16 autocast, or bfloat16 where the model's device computes it natively.
PRECISIONS = ("fp32", "bf16", "auto")


class InvalidArgumentError(ValueError, AssertionError):
    """A constructor argument (or an attribute set on a live model) has a value PPOG cannot use."""


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise InvalidArgumentError(f"Unknown {name}={value!r}: allowed values are {', '.join(repr(a) for a in allowed)}.")


ROLLOUT_THREADS = ("auto", "lanes")


def check_rollout_thread(value: Any) -> None:
    """``rollout_thread``: ``True``, ``False``, ``"auto"`` or ``"lanes"``; compared with ``is`` for the booleans, as
    ``1 == True`` and a 1 or 0 in a config is more likely a typo than a choice."""
    if not (value is True or value is False or (isinstance(value, str) and value in ROLLOUT_THREADS)):
        raise InvalidArgumentError(f"Unknown rollout_thread={value!r}: allowed values are True, False, 'auto' and 'lanes'.")


def as_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an ``int`` if it is integral and ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidArgumentError(f"{name}={value!r} must be an integer >= {minimum}.")
    return int(value)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def initial_value(value: Any, name: str) -> float:
    """The value of a float / string / schedule argument at the start of training (progress remaining 1)."""
    try:
        return parse_schedule(value, name)(1.0)
    except ValueError as error:
        raise InvalidArgumentError(str(error)) from None


def check_ent_coef(ent_coef: Any, ent_coef_decay: Any, ent_coef_min: Any) -> None:
    """The entropy coefficient, its decay per update in (0, 1] and its floor in [0, initial coefficient]."""
    initial_ent_coef = initial_value(ent_coef, "ent_coef")
    if not (_is_real(ent_coef_decay) and 0.0 < ent_coef_decay <= 1.0):
        raise InvalidArgumentError(f"ent_coef_decay={ent_coef_decay!r} must be in (0, 1] (1 disables the decay).")
    if not (_is_real(ent_coef_min) and 0.0 <= ent_coef_min <= initial_ent_coef):
        raise InvalidArgumentError(
            f"ent_coef_min={ent_coef_min!r} must be in [0, initial ent_coef={initial_ent_coef}] "
            "(a floor above the start would make the decay meaningless)."
        )


def check_clip_range(clip_range: Any) -> None:
    initial_clip = initial_value(clip_range, "clip_range")
    if not initial_clip > 0:
        raise InvalidArgumentError(f"clip_range={clip_range!r} must be > 0 (at the start of training it is {initial_clip}).")


def check_clip_range_vf(clip_range_vf: Any) -> None:
    if _is_real(clip_range_vf) and not clip_range_vf > 0:
        raise InvalidArgumentError(f"clip_range_vf={clip_range_vf!r} must be > 0; pass None to disable value clipping.")


def check_vf_learning_rate(vf_learning_rate: Any) -> None:
    if vf_learning_rate is not None and not initial_value(vf_learning_rate, "vf_learning_rate") > 0:
        raise InvalidArgumentError(f"vf_learning_rate={vf_learning_rate!r} must be > 0 (or None: same as learning_rate).")


def check_batch_size(batch_size: Any, normalize_advantage: bool) -> int:
    batch_size = as_int("batch_size", batch_size)
    if normalize_advantage and batch_size < 2:
        raise InvalidArgumentError(
            f"batch_size={batch_size} must be >= 2 with normalize_advantage=True "
            "(see SB3 issue #440); pass normalize_advantage=False to use batch_size=1."
        )
    return batch_size


def check_buffer_size(n_steps: int, n_envs: int, normalize_advantage: bool) -> None:
    if normalize_advantage and n_steps * n_envs < 2:
        raise InvalidArgumentError(
            f"n_steps * n_envs = {n_steps} * {n_envs} = {n_steps * n_envs}: must be >= 2 with "
            "normalize_advantage=True (a single sample has no standard deviation)."
        )


def check_arguments(values: Mapping[str, Any]) -> dict[str, int]:
    """Every check of PPOG's constructor arguments that needs no env, in the constructor's order.

    :param values: the constructor's arguments by name, defaults included (e.g. ``inspect.signature(PPOG)``'s
        ``bind(**kwargs)`` after ``apply_defaults()``), so a config can be checked before any model or env exists
    :return: ``n_steps``, ``n_epochs`` and ``batch_size`` as ``int``
    """
    check_choice("policy_loss", values["policy_loss"], tuple(POLICY_LOSSES))
    check_choice("advantage_estimator", values["advantage_estimator"], ADVANTAGE_ESTIMATORS)
    check_choice("precision", values["precision"], PRECISIONS)
    check_ent_coef(values["ent_coef"], values["ent_coef_decay"], values["ent_coef_min"])
    check_clip_range(values["clip_range"])
    check_clip_range_vf(values["clip_range_vf"])
    check_vf_learning_rate(values["vf_learning_rate"])
    return {
        "n_steps": as_int("n_steps", values["n_steps"]),
        "n_epochs": as_int("n_epochs", values["n_epochs"]),
        "batch_size": check_batch_size(values["batch_size"], values["normalize_advantage"]),
    }


def check_action_space(
    action_space: spaces.Space, supported: tuple[type[spaces.Space], ...] = SUPPORTED_ACTION_SPACES, algo: str = "PPOG"
) -> None:
    if not isinstance(action_space, supported):
        raise InvalidArgumentError(  # "The algorithm only supports": SB3's words, which its tests and users match
            f"Unsupported action space {action_space!r}. The algorithm only supports "
            f"{', '.join(s.__name__ for s in supported)} as action spaces ({algo})."
        )


def fast_path_frame_stack(env: Any, observation_space: spaces.Space) -> int | None:
    """Frames per observation where ``env`` is the fast Atari path (``ppog_sb3.make_atari_vec_env``, also inside the
    zoo's monitor), so that the default buffer can store each frame once; None elsewhere.

    The env says so itself: its ``stacked_frames`` attribute (``AtariVecEnv``: frames stacked on the channel axis,
    zero-padded after every done, as ``FrameStackRolloutBuffer`` rebuilds them). Only ``VecMonitor`` wrappers (which
    pass observations through unchanged) may stand between; any other wrapper (``VecNormalize``...) keeps the stacked
    buffer."""
    from stable_baselines3.common.vec_env import VecEnvWrapper, VecMonitor

    while isinstance(env, VecMonitor):
        env = env.venv
    if env is None or isinstance(env, VecEnvWrapper):
        return None
    frames = getattr(env, "stacked_frames", None)
    shape = observation_space.shape or ()
    if not isinstance(frames, int) or frames < 2 or not isinstance(observation_space, spaces.Box) or len(shape) != 3:
        return None
    return frames if shape[0] % frames == 0 else None


def rollout_buffer_kwargs(
    buffer_class: type,
    user_kwargs: dict[str, Any],
    advantage_estimator: str,
    channels_last: bool,
    observation_space: spaces.Space,
) -> dict[str, Any]:
    """The rollout buffer's kwargs: a copy of the user's, plus ``advantage_estimator`` and ``channels_last`` for PPOG's
    buffers; ``rollout_buffer_kwargs['advantage_estimator']`` may not contradict the ``advantage_estimator`` argument."""
    kwargs = dict(user_kwargs)
    if issubclass(buffer_class, (PPOGRolloutBuffer, PPOGDictRolloutBuffer)):
        given = kwargs.setdefault("advantage_estimator", advantage_estimator)
        if given != advantage_estimator:
            raise InvalidArgumentError(
                f"rollout_buffer_kwargs['advantage_estimator']={given!r} contradicts "
                f"advantage_estimator={advantage_estimator!r}: set it once, with the advantage_estimator argument."
            )
        if issubclass(buffer_class, PPOGRolloutBuffer) and channels_last:
            kwargs.setdefault("channels_last", is_image_space(observation_space, check_channels=False))
    elif advantage_estimator != "gae":
        raise InvalidArgumentError(
            f"advantage_estimator={advantage_estimator!r} needs PPOG's rollout buffer, "
            f"but rollout_buffer_class={buffer_class.__name__} was given."
        )
    return kwargs
