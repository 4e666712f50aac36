"""MaskablePPOG: PPOG with invalid-action masking, a drop-in for sb3-contrib's ``MaskablePPO``."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import torch as th
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule

from ppog_sb3.common.schedules import ScheduleLike
from ppog_sb3.ppog import arguments
from ppog_sb3.ppog.update import ContribPPOG

SelfMaskablePPOG = TypeVar("SelfMaskablePPOG", bound="MaskablePPOG")

#: ``MaskablePPO``'s action spaces: those with a mask entry per discrete choice.
ACTION_SPACES = (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


class MaskablePPOG(ContribPPOG, MaskablePPO):
    """
    PPOG with invalid-action masking: sb3-contrib's ``MaskablePPO`` (https://arxiv.org/abs/2006.14171) trained with
    PPOG's update.

    Every ``MaskablePPO`` argument has its name, meaning and default; the env must expose ``action_masks()``
    (or be wrapped in ``sb3_contrib.common.wrappers.ActionMasker``), and ``predict(..., action_masks=...)``,
    ``learn(..., use_masking=...)``, ``MaskableEvalCallback`` and the maskable ``evaluate_policy`` work as for
    ``MaskablePPO``. The policies are ``MaskablePPO``'s (``MlpPolicy``, ``CnnPolicy``, ``MultiInputPolicy``), and so is
    the rollout loop. ``policy_loss="clip"`` reproduces ``MaskablePPO`` bit for bit. What differs from the parent is
    the update (:class:`~ppog_sb3.ppog.update.PPOGUpdate`, the same as :class:`~ppog_sb3.PPOG`'s):

    - the policy loss (``"ppog"``: the masked gradient), the entropy-coefficient decay (its counter saved, so a loaded
      model continues it), ``vf_learning_rate``, live changes of the coefficients from a callback, errors that name
      the argument (:class:`~ppog_sb3.ppog.arguments.InvalidArgumentError`) and :class:`~ppog_sb3.NonFiniteError`
      before a non-finite step (on rewards, values, advantages, losses, gradients: the parent's rollout loop has no
      observation check);
    - advantages are not normalized over a minibatch of one sample (SB3's PPO rule; ``MaskablePPO`` returns NaN there);
    - ``load`` leaves the process's random streams alone, and ``save`` writes atomically. Exact resume
      (``load(path, env=env, force_reset=False).learn(n, reset_num_timesteps=False)``) holds for a model saved
      between ``learn`` calls; a checkpoint written by a callback during a rollout resumes with a new rollout,
      because ``MaskablePPO``'s loop calls ``callback.on_step()`` before it stores the step.

    Decisions: ``advantage_estimator`` is offered (``"nstep"`` is GAE with lambda = 1, on the parent's buffer).
    ``precision``, ``channels_last`` and ``rollout_thread`` are not: they need PPOG's rollout loop (its autocast,
    memory-format and forward-pass hooks), which the parent's loop (kept, so masking stays sb3-contrib's code) does not
    have, and bf16 in the update alone would make the ratio's first value differ from 1.

    :param policy_loss: ``"ppog"`` (default) or ``"clip"``, as for :class:`~ppog_sb3.PPOG`
    :param ent_coef_decay: the entropy coefficient's decay per update, in (0, 1], as for PPOG
    :param ent_coef_min: floor of the decayed entropy coefficient, as for PPOG
    :param vf_learning_rate: the critic's learning rate (None: ``learning_rate``), as for PPOG
    :param advantage_estimator: ``"gae"`` or ``"nstep"``, as for PPOG
    (The other parameters: ``sb3_contrib.MaskablePPO``'s; ``ent_coef`` also takes PPOG's strings, ``"lin_0.01"``.)
    """

    _foreign_model_hint: ClassVar[str] = (
        "Load it with that algorithm's class, or copy its weights (policy and Adam state) into a MaskablePPOG of the "
        "same architecture: model = MaskablePPOG(<same policy, policy_kwargs>, env); model.set_parameters(path)."
    )

    def __init__(
        self,
        policy: str | type[MaskableActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        n_steps: int = 2048,
        batch_size: int | None = 64,
        n_epochs: int = 10,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float | Schedule = 0.2,
        clip_range_vf: float | Schedule | None = None,
        normalize_advantage: bool = True,
        ent_coef: ScheduleLike = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        rollout_buffer_class: type[RolloutBuffer] | None = None,
        rollout_buffer_kwargs: dict[str, Any] | None = None,
        target_kl: float | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        policy_loss: str = "ppog",
        ent_coef_decay: float = 1.0,
        ent_coef_min: float = 0.0,
        vf_learning_rate: ScheduleLike | None = None,
        advantage_estimator: str = "gae",
        _init_setup_model: bool = True,
    ):
        if env is not None and not isinstance(env, str):
            arguments.check_action_space(env.action_space, ACTION_SPACES, "MaskablePPOG")
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            batch_size=batch_size,
            n_epochs=n_epochs,
            gamma=gamma,
            gae_lambda=gae_lambda,
            clip_range=clip_range,
            clip_range_vf=clip_range_vf,
            normalize_advantage=normalize_advantage,
            ent_coef=ent_coef,  # type: ignore[arg-type]
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            rollout_buffer_class=rollout_buffer_class,
            rollout_buffer_kwargs=rollout_buffer_kwargs,
            target_kl=target_kl,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
        )
        self._init_ppog(policy_loss, ent_coef_decay, ent_coef_min, vf_learning_rate, advantage_estimator)
        if _init_setup_model:
            self._setup_model()

    # MaskablePPO's rollout loop (it asks the env for masks), not ExactResumeMixin's: see "Exact resume" above
    collect_rollouts = MaskablePPO.collect_rollouts

    def _evaluate_minibatch(self, rollout_data: Any, actions: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor | None]:
        """``MaskablePPO``'s evaluation: the masks stored with each step exclude the invalid actions."""
        return self.policy.evaluate_actions(rollout_data.observations, actions, action_masks=rollout_data.action_masks)

    def learn(  # type: ignore[override]
        self: SelfMaskablePPOG,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "MaskablePPOG",
        reset_num_timesteps: bool = True,
        use_masking: bool = True,
        progress_bar: bool = False,
    ) -> SelfMaskablePPOG:
        return super().learn(
            total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps, use_masking, progress_bar
        )
