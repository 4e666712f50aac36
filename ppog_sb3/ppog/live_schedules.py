"""PPOG's schedules, and attributes changed on a live model: :class:`LiveSchedules`.

SB3 builds its schedules once, at set-up, so ``model.ent_coef = 0.3`` set from a callback (what SB3's maintainers
advise, SB3 #316 / #628) is silently ignored by PPO's successors. PPOG compares, at the start of every update, the
attributes in :attr:`LiveSchedules.LIVE_ATTRIBUTES` with what its schedules were built from, checks what changed
(errors name the attribute) and rebuilds those schedules, so the change takes effect at the next update; the
attributes are saved with the model like any other.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch as th
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.utils import FloatSchedule

from ppog_sb3.common.schedules import DecayedSchedule, parse_schedule
from ppog_sb3.ppog import arguments


class LiveSchedules(OnPolicyAlgorithm):
    """PPO's schedules (learning rate, clip ranges) plus PPOG's (decayed entropy coefficient, critic learning rate),
    rebuilt when the attributes they come from are set on a live model."""

    ent_coef: Any
    ent_coef_decay: float
    ent_coef_min: float
    vf_learning_rate: Any
    clip_range: Any
    clip_range_vf: Any
    _n_train_updates: int
    _ent_coef_origin: tuple[int, float]

    #: Attributes a user may change on a live model (e.g. from a callback, SB3 #316 / #628); they take effect at the
    #: next update, and are saved with the model like every attribute.
    LIVE_ATTRIBUTES: ClassVar[tuple[str, ...]] = (
        "learning_rate",
        "vf_learning_rate",
        "clip_range",
        "clip_range_vf",
        "ent_coef",
        "ent_coef_decay",
        "ent_coef_min",
    )

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_schedule_sources"]

    def _check_live_attributes(self) -> None:
        """The checks of the live attributes (at construction, and at the update after one was set)."""
        arguments.check_ent_coef(self.ent_coef, self.ent_coef_decay, self.ent_coef_min)
        arguments.check_clip_range(self.clip_range)
        arguments.check_clip_range_vf(self.clip_range_vf)
        arguments.check_vf_learning_rate(self.vf_learning_rate)

    def _setup_schedules(self) -> None:
        """Build the schedules from the attributes: as PPO, plus the entropy coefficient and the critic's learning rate."""
        self.clip_range = FloatSchedule(self.clip_range)
        if self.clip_range_vf is not None:
            self.clip_range_vf = FloatSchedule(self.clip_range_vf)
        self.ent_coef_schedule = DecayedSchedule(
            parse_schedule(self.ent_coef, "ent_coef"),
            decay=self.ent_coef_decay,
            floor=self.ent_coef_min,
            origin=tuple(self._ent_coef_origin),  # type: ignore[arg-type]  # a list after a JSON round trip
        )
        vf_learning_rate = self.vf_learning_rate
        self.vf_lr_schedule = None if vf_learning_rate is None else parse_schedule(vf_learning_rate, "vf_learning_rate")
        # what the schedules were built from: _sync_schedules compares by identity to see what the user set since
        self._schedule_sources = {name: getattr(self, name) for name in self.LIVE_ATTRIBUTES}

    def _sync_schedules(self) -> None:
        """Rebuild the schedules of the attributes set on the live model since the last update, after checking them.

        A new ``ent_coef`` starts a new decay segment from its own value (the next update uses
        ``max(ent_coef_min, ent_coef * ent_coef_decay)``, as at construction); a new ``ent_coef_decay`` goes on from
        the coefficient reached; a new ``learning_rate`` rebuilds ``lr_schedule`` (assigning ``lr_schedule`` directly,
        SB3's way, keeps working too).
        """
        sources = self._schedule_sources
        changed = {name for name in self.LIVE_ATTRIBUTES if getattr(self, name) is not sources[name]}
        if not changed:
            return
        self._check_live_attributes()
        if "learning_rate" in changed:
            self._setup_lr_schedule()
        updates = self._n_train_updates
        if "ent_coef" in changed:
            self._ent_coef_origin = (updates, 1.0)
        elif "ent_coef_decay" in changed:
            origin_updates, origin_factor = self._ent_coef_origin
            self._ent_coef_origin = (updates, origin_factor * sources["ent_coef_decay"] ** (updates - origin_updates))
        self._setup_schedules()

    def _update_learning_rate(self, optimizers: list[th.optim.Optimizer] | th.optim.Optimizer) -> None:
        """Set each parameter group's learning rate from its schedule, and log both."""
        lr = self.lr_schedule(self._current_progress_remaining)
        vf_lr = lr if self.vf_lr_schedule is None else self.vf_lr_schedule(self._current_progress_remaining)
        self.logger.record("train/learning_rate", lr)
        self.logger.record("train/vf_learning_rate", vf_lr)
        for optimizer in optimizers if isinstance(optimizers, list) else [optimizers]:
            for group in optimizer.param_groups:
                group["lr"] = vf_lr if group.get("name") == "critic" else lr

    @property
    def current_ent_coef(self) -> float:
        """The entropy coefficient of the last update (before any update: the initial value)."""
        return self.ent_coef_schedule(self._current_progress_remaining, self._n_train_updates)
