"""Schedules: parsing the zoo's string forms and the entropy-coefficient decay.

A schedule, as everywhere in SB3, is a function of ``progress_remaining`` (1 at the start of ``learn()``, 0 at
its end). This module adds

- :func:`parse_schedule`: ``0.01``, ``"0.01"``, ``"lin_0.01"`` (linear from 0.01 to 0, the rl-zoo form) or any
  callable, into an SB3 schedule object that pickles (so it survives ``save``/``load``);
- :class:`DecayedSchedule`: PPOG's per-update exponential entropy decay with a floor, on top of any schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stable_baselines3.common.utils import ConstantSchedule, FloatSchedule, LinearSchedule

ScheduleLike = float | str | Callable[[float], float]


def parse_schedule(value: Any, name: str) -> Callable[[float], float]:
    """Turn a float, a numeric string, a ``"lin_<start>"`` string or a callable into a schedule.

    :param value: the user's value
    :param name: the constructor argument's name, for error messages
    :raises ValueError: on anything else, naming the argument and the accepted forms
    """
    if isinstance(value, bool):  # bool is an int: reject it explicitly
        raise ValueError(_schedule_error(name, value))
    if isinstance(value, (int, float)):
        return ConstantSchedule(float(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.startswith("lin_"):
                # rl-zoo's convention: "lin_X" goes linearly from X (progress_remaining=1) to 0
                return LinearSchedule(start=float(text[len("lin_") :]), end=0.0, end_fraction=1.0)
            return ConstantSchedule(float(text))
        except ValueError:
            raise ValueError(_schedule_error(name, value)) from None
    if callable(value):
        return FloatSchedule(value)
    raise ValueError(_schedule_error(name, value))


def _schedule_error(name: str, value: Any) -> str:
    return (
        f"Invalid {name}={value!r}: expected a float, a numeric string such as '0.01', "
        f"a linear schedule string such as 'lin_0.01', or a callable of progress_remaining (1 -> 0)."
    )


class DecayedSchedule:
    """``max(floor, base(progress_remaining) * decay ** n_updates)``, or from an ``origin``:
    ``max(floor, base(progress_remaining) * origin_factor * decay ** (n_updates - origin_updates))``.

    PPOG decays the entropy coefficient once per update (once per rollout, before the epochs), as the course
    code does: ``ent_coef = max(ent_coef_min, ent_coef * ent_coef_decay)``. Writing it as a closed form of the
    number of updates (instead of multiplying a float in place) keeps it exact and makes resuming trivial: the
    algorithm only has to save the update counter.

    :param base: the schedule before decay (constant for the course code's setting)
    :param decay: multiplicative decay per update, in (0, 1]; 1 disables the decay
    :param floor: lower bound, >= 0
    :param origin: ``(origin_updates, origin_factor)``: where the decay starts and the factor reached there; ``(0, 1.0)``
        unless the decay was changed on a live model (a new decay goes on from the factor reached)
    """

    def __init__(
        self, base: Callable[[float], float], decay: float = 1.0, floor: float = 0.0, origin: tuple[int, float] = (0, 1.0)
    ) -> None:
        self.base = base
        self.decay = decay
        self.floor = floor
        self.origin = origin

    def __call__(self, progress_remaining: float, n_updates: int) -> float:
        value = self.base(progress_remaining)
        origin_updates, origin_factor = self.origin
        if self.decay != 1.0 or origin_factor != 1.0:
            value = value * origin_factor * self.decay ** (n_updates - origin_updates)
        if self.floor > 0.0:
            value = max(self.floor, value)
        return value

    def __repr__(self) -> str:
        return f"DecayedSchedule(base={self.base!r}, decay={self.decay}, floor={self.floor}, origin={self.origin})"
