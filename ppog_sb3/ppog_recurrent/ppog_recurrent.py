"""RecurrentPPOG: PPOG with an LSTM policy, a drop-in for sb3-contrib's ``RecurrentPPO``."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule

from ppog_sb3.common.schedules import ScheduleLike
from ppog_sb3.ppog import arguments
from ppog_sb3.ppog.update import ContribPPOG

SelfRecurrentPPOG = TypeVar("SelfRecurrentPPOG", bound="RecurrentPPOG")


class RecurrentPPOG(ContribPPOG, RecurrentPPO):
    """
    PPOG with a recurrent (LSTM) policy: sb3-contrib's ``RecurrentPPO`` trained with PPOG's update.

    Every ``RecurrentPPO`` argument has its name, meaning and default; the policies (``MlpLstmPolicy``,
    ``CnnLstmPolicy``, ``MultiInputLstmPolicy``), the rollout loop (LSTM states carried across steps, reset at episode
    starts) and the padded-sequence buffer are ``RecurrentPPO``'s, and ``predict(obs, state, episode_start)`` works as
    for it. ``policy_loss="clip"`` reproduces ``RecurrentPPO`` bit for bit. What differs from the parent is the update
    (:class:`~ppog_sb3.ppog.update.PPOGUpdate`, the same as :class:`~ppog_sb3.PPOG`'s):

    - the policy loss (``"ppog"``: the masked gradient, averaged over the real steps of the padded sequences only, as
      every loss of ``RecurrentPPO``), the entropy-coefficient decay (its counter saved, so a loaded model continues
      it), ``vf_learning_rate``, live changes of the coefficients from a callback, errors that name the argument
      (:class:`~ppog_sb3.ppog.arguments.InvalidArgumentError`) and :class:`~ppog_sb3.NonFiniteError` before a
      non-finite step (on rewards, values, advantages, losses, gradients);
    - ``vf_learning_rate`` trains the critic's own layers: ``value_net``, the critic's MLP, the critic's LSTM
      (``lstm_critic``, ``enable_critic_lstm=True``) or its linear stand-in (``critic``); a shared LSTM
      (``shared_lstm=True``) trains at ``learning_rate``, as a shared features extractor does;
    - ``load`` leaves the process's random streams alone, and ``save`` writes atomically and also keeps the LSTM states
      the next step starts from (``RecurrentPPO`` drops them, so its loaded model starts from zero states). Exact
      resume (``load(path, env=env, force_reset=False).learn(n, reset_num_timesteps=False)``) holds for a model saved
      between ``learn`` calls; a checkpoint written by a callback during a rollout resumes with a new rollout,
      because ``RecurrentPPO``'s loop calls ``callback.on_step()`` before it stores the step.

    Decisions: ``advantage_estimator`` is offered (``"nstep"`` is GAE with lambda = 1, on the parent's buffer).
    ``precision``, ``channels_last`` and ``rollout_thread`` are not: they need PPOG's rollout loop (its autocast,
    memory-format and forward-pass hooks), which the parent's loop (kept, so the LSTM-state handling stays
    sb3-contrib's code) does not have, and bf16 in the update alone would make the ratio's first value differ from 1.

    :param policy_loss: ``"ppog"`` (default) or ``"clip"``, as for :class:`~ppog_sb3.PPOG`
    :param ent_coef_decay: the entropy coefficient's decay per update, in (0, 1], as for PPOG
    :param ent_coef_min: floor of the decayed entropy coefficient, as for PPOG
    :param vf_learning_rate: the critic's learning rate (None: ``learning_rate``), as for PPOG
    :param advantage_estimator: ``"gae"`` or ``"nstep"``, as for PPOG
    (The other parameters: ``sb3_contrib.RecurrentPPO``'s; ``ent_coef`` also takes PPOG's strings, ``"lin_0.01"``.)
    """

    policy: RecurrentActorCriticPolicy
    _foreign_model_hint: ClassVar[str] = (
        "Load it with that algorithm's class, or copy its weights (policy and Adam state) into a RecurrentPPOG of the "
        "same architecture: model = RecurrentPPOG(<same policy, policy_kwargs>, env); model.set_parameters(path)."
    )

    def __init__(
        self,
        policy: str | type[RecurrentActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        n_steps: int = 128,
        batch_size: int | None = 128,
        n_epochs: int = 10,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float | Schedule = 0.2,
        clip_range_vf: float | Schedule | None = None,
        normalize_advantage: bool = True,
        ent_coef: ScheduleLike = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
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
            arguments.check_action_space(env.action_space, arguments.SUPPORTED_ACTION_SPACES, "RecurrentPPOG")
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
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
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

    # RecurrentPPO's rollout loop (it carries the LSTM states), not ExactResumeMixin's: see "Exact resume" above
    collect_rollouts = RecurrentPPO.collect_rollouts

    # ------------------------------------------------------------------ the update: where RecurrentPPO's differs
    def _evaluate_minibatch(self, rollout_data: Any, actions: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor | None]:
        """``RecurrentPPO``'s evaluation: each padded sequence from its stored LSTM states, reset at episode starts."""
        return self.policy.evaluate_actions(
            rollout_data.observations, actions, rollout_data.lstm_states, rollout_data.episode_starts
        )

    def _valid_steps(self, rollout_data: Any) -> th.Tensor:
        """The real steps of the padded sequences (the buffer's mask is 1 there, 0 on padding)."""
        return rollout_data.mask > 1e-8

    def _value_loss(self, returns: th.Tensor, values_pred: th.Tensor) -> th.Tensor:
        """``RecurrentPPO``'s value loss: the mean squared error written out (on the real steps)."""
        return th.mean((returns - values_pred) ** 2)

    def _build_optimizer(self) -> None:
        """PPOG's actor and critic groups, with the critic's recurrent layers (``lstm_critic``, or ``critic`` without
        a critic LSTM) in the critic's group, as ``value_net`` is."""
        super()._build_optimizer()
        recurrent_critic: list[th.nn.Module] = [m for m in (self.policy.lstm_critic, self.policy.critic) if m is not None]
        actor, critic = self.policy.optimizer.param_groups  # value_net is always critic-only: two groups
        critic_ids = {id(p) for p in critic["params"]} | {id(p) for module in recurrent_critic for p in module.parameters()}
        groups = [
            {"params": [p for p in self.policy.parameters() if id(p) not in critic_ids], "name": "actor"},
            {"params": [p for p in self.policy.parameters() if id(p) in critic_ids], "name": "critic", "lr": critic["lr"]},
        ]
        self.policy.optimizer = self.policy.optimizer_class(groups, lr=actor["lr"], **self.policy.optimizer_kwargs)  # type: ignore[call-arg]

    # ------------------------------------------------------------------ save / load: the LSTM states too
    def save(self, path: Any, exclude: Any = None, include: Any = None) -> None:
        """PPOG's ``save`` (atomic, with the random streams), plus the LSTM states the next rollout step starts from."""
        states = self._last_lstm_states
        self._lstm_states_at_save = None if states is None else [t.cpu().numpy() for pair in states for t in pair]
        try:
            super().save(path, exclude=exclude, include=include)
        finally:
            del self._lstm_states_at_save

    @classmethod
    def load(
        cls: type[SelfRecurrentPPOG], path: Any, env: GymEnv | None = None, *args: Any, **kwargs: Any
    ) -> SelfRecurrentPPOG:
        """PPOG's ``load``; the saved LSTM states come back where they fit (the same number of envs), else zeros."""
        model = super().load(path, env, *args, **kwargs)
        saved: list[np.ndarray] | None = model.__dict__.pop("_lstm_states_at_save", None)
        current = model._last_lstm_states
        if saved is not None and current is not None:
            tensors = [t for pair in current for t in pair]
            if [a.shape for a in saved] == [tuple(t.shape) for t in tensors]:
                pi_h, pi_c, vf_h, vf_c = (th.as_tensor(a, device=model.device) for a in saved)
                model._last_lstm_states = RNNStates((pi_h, pi_c), (vf_h, vf_c))
        return model

    def learn(
        self: SelfRecurrentPPOG,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "RecurrentPPOG",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfRecurrentPPOG:
        return super().learn(total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps, progress_bar)
