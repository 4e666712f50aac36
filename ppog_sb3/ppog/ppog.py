"""PPOG: "PPO, Gilad's version", as a Stable-Baselines3 on-policy algorithm."""

from __future__ import annotations

import io
import json
import os
import pathlib
import random
import warnings
import zipfile
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticCnnPolicy, ActorCriticPolicy, BasePolicy, MultiInputActorCriticPolicy
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import FloatSchedule, explained_variance, obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv
from torch.nn import functional as F

from ppog_sb3.common.buffers import ADVANTAGE_ESTIMATORS, PPOGDictRolloutBuffer, PPOGRolloutBuffer
from ppog_sb3.common.losses import POLICY_LOSSES
from ppog_sb3.common.schedules import DecayedSchedule, ScheduleLike, parse_schedule

SelfPPOG = TypeVar("SelfPPOG", bound="PPOG")

PRECISIONS = ("fp32", "bf16", "auto")
SUPPORTED_ACTION_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


class NonFiniteError(FloatingPointError):
    """Raised when a loss, an advantage or a gradient is NaN or infinite, before it reaches the weights."""


class PPOG(OnPolicyAlgorithm):
    """
    PPOG: PPO, Gilad's version (masked-gradient policy loss, entropy-coefficient decay, separate critic rate).

    A drop-in for ``stable_baselines3.PPO``: every PPO argument has the same name, meaning and default, and
    ``policy_loss="clip"`` with no entropy decay and no separate critic rate reproduces PPO exactly.
    What PPOG adds (specification: ``shared/PPOG.md``, course code ``MarkmanGilad/Actor-Critic-n-step``):

    - ``policy_loss="ppog"`` (default): ``mean(where(mask, 0, -A * log pi))``, where ``mask`` is exactly
      PPO-clip's zero-gradient set; elsewhere the gradient is the plain policy gradient ``-A * grad log pi``
      (PPO-clip's carries the ratio as a weight). See :func:`ppog_sb3.common.losses.ppog_policy_loss`.
    - Entropy coefficient: a float, a schedule or a zoo string (``"lin_0.01"``), decayed once per update
      (before the epochs) by ``ent_coef_decay`` down to ``ent_coef_min``; the update counter is saved, so a
      loaded model continues the decay where it stopped.
    - ``vf_learning_rate``: the critic's own learning rate (two parameter groups in one optimizer).
      Rule for shared parameters: a features extractor shared by actor and critic
      (``share_features_extractor=True``, SB3's default for CnnPolicy) is trained at the actor's
      ``learning_rate``; only critic-only parameters (``value_net``, ``mlp_extractor.value_net`` and a separate
      ``vf_features_extractor``) use ``vf_learning_rate``. Reason: the shared trunk then behaves exactly as
      in PPO, and ``vf_learning_rate`` changes only what belongs to the critic.
    - ``advantage_estimator``: ``"gae"`` (SB3's numbers) or ``"nstep"`` (the course code's n-step return).
    - Exact resume: ``save`` stores the random-number-generator states (torch, numpy, python, action space)
      and ``load`` restores them, so ``load(path, env=env, force_reset=False).learn(n,
      reset_num_timesteps=False)`` continues exactly as an uninterrupted run on the same env object.
      ``save`` writes to a temporary file and renames it: a crash never leaves a half-written model.
    - Non-finite losses, advantages or gradients stop training with :class:`NonFiniteError` before the
      optimizer step, so the weights stay those of the last good step.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy, or a policy class)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate (of the actor and shared parameters), it can be a function
        of the current progress remaining (from 1 to 0)
    :param n_steps: The number of steps to run for each environment per update
        (i.e. rollout buffer size is n_steps * n_envs where n_envs is number of environment copies running in parallel)
    :param batch_size: Minibatch size
    :param n_epochs: Number of epochs over the rollout buffer per update
    :param gamma: Discount factor
    :param gae_lambda: Factor for trade-off of bias vs variance for Generalized Advantage Estimator
        (unused by ``advantage_estimator="nstep"``)
    :param clip_range: Trust-region half-width ``eps`` (PPOG: the mask; clip: the clipping), it can be a
        function of the current progress remaining (from 1 to 0)
    :param clip_range_vf: Clipping parameter for the value function, as in PPO (None: no clipping).
        IMPORTANT: this clipping depends on the reward scaling.
    :param normalize_advantage: Whether to normalize the advantage per minibatch (PPO's default: True; the
        course code does not normalize)
    :param ent_coef: Entropy coefficient: a float, a schedule of progress remaining, or a string
        (``"0.01"``, ``"lin_0.01"``: linear from 0.01 to 0)
    :param vf_coef: Value function coefficient for the loss calculation
    :param max_grad_norm: The maximum value for the gradient clipping
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE)
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE (-1: once per rollout)
    :param rollout_buffer_class: Rollout buffer class to use. If ``None``, PPOG's buffer (flat or dict)
    :param rollout_buffer_kwargs: Keyword arguments to pass to the rollout buffer on creation
    :param target_kl: Stop the epochs of an update early when approx KL exceeds ``1.5 * target_kl`` (None: never)
    :param stats_window_size: Window size for the rollout logging (episodes)
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
    :param verbose: Verbosity level: 0 no output, 1 info, 2 debug
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run ("auto": GPU if possible)
    :param policy_loss: ``"ppog"`` (masked gradient, default) or ``"clip"`` (PPO's clipped surrogate)
    :param ent_coef_decay: Multiplicative decay of the entropy coefficient per update, in (0, 1] (1: none).
        The course code uses 0.9996.
    :param ent_coef_min: Floor of the decayed entropy coefficient, in [0, initial ent_coef]
    :param vf_learning_rate: The critic's learning rate: float, schedule or string as ``ent_coef`` (None: same as
        ``learning_rate``)
    :param advantage_estimator: ``"gae"`` or ``"nstep"``
    :param precision: ``"fp32"`` (default), ``"bf16"`` or ``"auto"``. ``"bf16"``: autocast of the network's forward
        and backward passes to bfloat16; losses, advantages and optimizer state stay in float32. It pays only on
        hardware with native bf16 (GPUs since Ampere, CPUs with AVX512-BF16 or AMX); elsewhere it is emulated and
        much slower (a warning says so). ``"auto"``: bf16 where it is native, fp32 otherwise.
    :param channels_last: Run image observations and convolution weights in the channels-last memory format
        (faster convolutions on CPUs with oneDNN and on GPUs; the same math, float rounding may differ)
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": ActorCriticPolicy,
        "CnnPolicy": ActorCriticCnnPolicy,
        "MultiInputPolicy": MultiInputActorCriticPolicy,
    }

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        n_steps: int = 2048,
        batch_size: int = 64,
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
        precision: str = "fp32",
        channels_last: bool = False,
        _init_setup_model: bool = True,
    ):
        _check_choice("policy_loss", policy_loss, tuple(POLICY_LOSSES))
        _check_choice("advantage_estimator", advantage_estimator, ADVANTAGE_ESTIMATORS)
        _check_choice("precision", precision, PRECISIONS)
        _check_hyperparameters(
            ent_coef=ent_coef,
            ent_coef_decay=ent_coef_decay,
            ent_coef_min=ent_coef_min,
            clip_range=clip_range,
            batch_size=batch_size,
            normalize_advantage=normalize_advantage,
            n_steps=n_steps,
            n_epochs=n_epochs,
            vf_learning_rate=vf_learning_rate,
        )
        if env is not None and not isinstance(env, str):
            _check_action_space(env.action_space)

        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=gae_lambda,
            ent_coef=ent_coef,  # type: ignore[arg-type]
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            rollout_buffer_class=rollout_buffer_class,
            rollout_buffer_kwargs=rollout_buffer_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            device=device,
            seed=seed,
            _init_setup_model=False,
            supported_action_spaces=SUPPORTED_ACTION_SPACES,
        )

        if self.env is not None:
            buffer_size = self.env.num_envs * self.n_steps
            if normalize_advantage and buffer_size < 2:
                raise ValueError(
                    f"n_steps * n_envs = {self.n_steps} * {self.env.num_envs} = {buffer_size}: must be >= 2 with "
                    "normalize_advantage=True (a single sample has no standard deviation)."
                )
            if buffer_size % batch_size > 0:
                warnings.warn(
                    f"You have specified a mini-batch size of {batch_size},"
                    f" but because the rollout buffer is of size `n_steps * n_envs = {buffer_size}`,"
                    f" after every {buffer_size // batch_size} untruncated mini-batches,"
                    f" there will be a truncated mini-batch of size {buffer_size % batch_size}\n"
                    f"We recommend using a `batch_size` that is a factor of `n_steps * n_envs`.\n"
                    f"Info: (n_steps={self.n_steps} and n_envs={self.env.num_envs})"
                )
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.clip_range = clip_range
        self.clip_range_vf = clip_range_vf
        self.normalize_advantage = normalize_advantage
        self.target_kl = target_kl
        self.policy_loss = policy_loss
        self.ent_coef_decay = ent_coef_decay
        self.ent_coef_min = ent_coef_min
        self.vf_learning_rate = vf_learning_rate
        self.advantage_estimator = advantage_estimator
        self.precision = precision
        self.channels_last = channels_last
        # Number of train() calls, one per rollout ("updates" in the course code). SB3's _n_updates counts
        # epochs instead. The entropy decay is a closed form of this counter, so saving it is enough to resume.
        self._n_train_updates = 0
        # Checkpoint state (not pickled): whether collect_rollouts is running, and a partial rollout to continue
        self._rollout_in_progress = False
        self._resume_rollout: dict[str, Any] | None = None

        if _init_setup_model:
            self._setup_model()

    # ------------------------------------------------------------------ set-up
    def _setup_model(self) -> None:
        if self.rollout_buffer_class is None:
            self.rollout_buffer_class = (
                PPOGDictRolloutBuffer if isinstance(self.observation_space, spaces.Dict) else PPOGRolloutBuffer
            )
        if issubclass(self.rollout_buffer_class, (PPOGRolloutBuffer, PPOGDictRolloutBuffer)):
            self.rollout_buffer_kwargs = {"advantage_estimator": self.advantage_estimator, **self.rollout_buffer_kwargs}
        elif self.advantage_estimator != "gae":
            raise ValueError(
                f"advantage_estimator={self.advantage_estimator!r} needs PPOG's rollout buffer, "
                f"but rollout_buffer_class={self.rollout_buffer_class.__name__} was given."
            )
        if issubclass(self.rollout_buffer_class, PPOGRolloutBuffer) and self.channels_last:
            image = is_image_space(self.observation_space, check_channels=False)
            self.rollout_buffer_kwargs.setdefault("channels_last", image)
        super()._setup_model()

        # Schedules: as PPO, plus the entropy coefficient and the critic's learning rate
        self.clip_range = FloatSchedule(self.clip_range)
        if self.clip_range_vf is not None:
            if isinstance(self.clip_range_vf, (float, int)) and self.clip_range_vf <= 0:
                raise ValueError(f"clip_range_vf={self.clip_range_vf!r} must be > 0; pass None to disable value clipping.")
            self.clip_range_vf = FloatSchedule(self.clip_range_vf)
        self.ent_coef_schedule = DecayedSchedule(
            parse_schedule(self.ent_coef, "ent_coef"), decay=self.ent_coef_decay, floor=self.ent_coef_min
        )
        self.vf_lr_schedule = (
            self.lr_schedule if self.vf_learning_rate is None else parse_schedule(self.vf_learning_rate, "vf_learning_rate")
        )
        native_bf16 = has_native_bf16(self.device)
        self._use_bf16 = self.precision == "bf16" or (self.precision == "auto" and native_bf16)
        if self.precision == "bf16" and not native_bf16:
            warnings.warn(
                f"precision='bf16' on {self.device} without native bfloat16 support "
                f"(CPU capability {th.backends.cpu.get_cpu_capability()}): bf16 is emulated and much slower than fp32. "
                "Use precision='auto' to pick bf16 only where it is native."
            )
        if self.channels_last:
            self.policy.to(memory_format=th.channels_last)  # type: ignore[call-overload]
        self._build_optimizer()
        obs_space = self.observation_space
        spaces_to_check = obs_space.spaces.values() if isinstance(obs_space, spaces.Dict) else [obs_space]
        self._check_observations = any(np.issubdtype(space.dtype, np.floating) for space in spaces_to_check)

    def _excluded_save_params(self) -> list[str]:
        return [
            *super()._excluded_save_params(),
            "_rollout_in_progress",
            "_resume_rollout",
            "_check_observations",
            "_use_bf16",
        ]

    def _build_optimizer(self) -> None:
        """Rebuild the policy's optimizer with an ``actor`` and a ``critic`` parameter group."""
        policy = self.policy
        critic_modules = [
            getattr(policy, "value_net", None),
            getattr(getattr(policy, "mlp_extractor", None), "value_net", None),
        ]
        if not getattr(policy, "share_features_extractor", True):
            critic_modules.append(getattr(policy, "vf_features_extractor", None))
        critic_ids = {id(p) for module in critic_modules if module is not None for p in module.parameters()}
        actor_params = [p for p in policy.parameters() if id(p) not in critic_ids]
        critic_params = [p for p in policy.parameters() if id(p) in critic_ids]
        groups = [{"params": actor_params, "name": "actor"}]
        if critic_params:
            groups.append({"params": critic_params, "name": "critic", "lr": self.vf_lr_schedule(1)})
        policy.optimizer = policy.optimizer_class(groups, lr=self.lr_schedule(1), **policy.optimizer_kwargs)  # type: ignore[call-arg]

    def _update_learning_rate(self, optimizers: list[th.optim.Optimizer] | th.optim.Optimizer) -> None:
        """Set each parameter group's learning rate from its schedule, and log both."""
        lr = self.lr_schedule(self._current_progress_remaining)
        vf_lr = self.vf_lr_schedule(self._current_progress_remaining)
        self.logger.record("train/learning_rate", lr)
        self.logger.record("train/vf_learning_rate", vf_lr)
        for optimizer in optimizers if isinstance(optimizers, list) else [optimizers]:
            for group in optimizer.param_groups:
                group["lr"] = vf_lr if group.get("name") == "critic" else lr

    @property
    def current_ent_coef(self) -> float:
        """The entropy coefficient of the last update (before any update: the initial value)."""
        return self.ent_coef_schedule(self._current_progress_remaining, self._n_train_updates)

    def _model_input(self, obs: Any) -> Any:
        """Image observations in channels-last layout when asked for, converted while still uint8 (a quarter of the
        bytes of float32; the later float conversion keeps the layout). Minibatches from PPOG's buffer are already
        channels-last views (see ``PPOGRolloutBuffer(channels_last=True)``), so this is a no-op for them."""
        if not self.channels_last:
            return obs
        if isinstance(obs, dict):
            return {key: self._model_input(value) for key, value in obs.items()}
        return obs.contiguous(memory_format=th.channels_last) if obs.dim() == 4 else obs

    def _autocast(self):
        """bf16 autocast context when bf16 is in use (see ``precision``), a no-op otherwise."""
        return th.autocast(device_type=self.device.type, dtype=th.bfloat16, enabled=self._use_bf16)

    # ------------------------------------------------------------------ rollouts
    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        """SB3's rollout loop (same random-number use, same data), with three changes:

        - forward passes under ``inference_mode`` (and autocast for bf16); the values of truncated episodes'
          final observations in one batch per step instead of one forward pass per env;
        - ``callback.on_step()`` runs after the step is stored in the buffer, so a checkpoint written by a
          callback (``CheckpointCallback``, the zoo's ``--save-freq``) holds a consistent state: ``save`` adds
          the part of the rollout collected so far, and a loaded model continues that rollout exactly;
        - non-finite float observations stop training with :class:`NonFiniteError`.
        """
        assert self._last_obs is not None, "No previous observation was provided"
        self.policy.set_training_mode(False)

        resume = self._resume_rollout
        self._resume_rollout = None
        rollout_buffer.reset()
        if resume is not None:
            n_steps = _restore_partial_rollout(rollout_buffer, resume)
        else:
            n_steps = 0
            # gSDE noise is not part of a checkpoint: a rollout resumed mid-way keeps the noise sampled at load
            if self.use_sde:
                self.policy.reset_noise(env.num_envs)
        self._rollout_in_progress = True

        callback.on_rollout_start()

        while n_steps < n_rollout_steps:
            if self.use_sde and self.sde_sample_freq > 0 and n_steps % self.sde_sample_freq == 0:
                self.policy.reset_noise(env.num_envs)

            if self._check_observations:
                self._check_finite_observations(self._last_obs)
            with th.inference_mode(), self._autocast():
                obs_tensor = self._model_input(obs_as_tensor(self._last_obs, self.device))  # type: ignore[arg-type]
                actions, values, log_probs = self.policy(obs_tensor)
            values, log_probs = values.float(), log_probs.float()
            actions = actions.cpu().numpy()

            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                if self.policy.squash_output:
                    clipped_actions = self.policy.unscale_action(clipped_actions)
                else:
                    clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)

            new_obs, rewards, dones, infos = env.step(clipped_actions)

            self.num_timesteps += env.num_envs
            self._update_info_buffer(infos, dones)
            n_steps += 1

            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.reshape(-1, 1)

            # Truncated episodes (time limit) are bootstrapped with V(final observation): SB3 issue #633.
            # The buffer gets the bootstrapped rewards; callbacks still see the env's own `rewards`.
            buffer_rewards = rewards
            truncated = [
                idx
                for idx, done in enumerate(dones)
                if done and infos[idx].get("terminal_observation") is not None and infos[idx].get("TimeLimit.truncated", False)
            ]
            if truncated:
                buffer_rewards = rewards.copy()
                terminal_values = self._predict_terminal_values([infos[idx]["terminal_observation"] for idx in truncated])
                for idx, terminal_value in zip(truncated, terminal_values):
                    buffer_rewards[idx] += self.gamma * terminal_value

            rollout_buffer.add(
                self._last_obs,  # type: ignore[arg-type]
                actions,
                buffer_rewards,
                self._last_episode_starts,  # type: ignore[arg-type]
                values,
                log_probs,
            )
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones

            callback.update_locals(locals())
            if not callback.on_step():
                self._rollout_in_progress = False
                return False

        with th.inference_mode(), self._autocast():
            last_obs = self._model_input(obs_as_tensor(self._last_obs, self.device))  # type: ignore[arg-type]
            values = self.policy.predict_values(last_obs).float()

        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=self._last_episode_starts)  # type: ignore[arg-type]
        self._rollout_in_progress = False

        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _check_finite_observations(self, obs: Any) -> None:
        arrays = obs.values() if isinstance(obs, dict) else [obs]
        for array in arrays:
            if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
                self._raise_non_finite(
                    "observations", f"{array.size - np.count_nonzero(np.isfinite(array))} non-finite entries at rollout"
                )

    def _setup_learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        reset_num_timesteps: bool = True,
        tb_log_name: str = "run",
        progress_bar: bool = False,
    ) -> tuple[int, BaseCallback]:
        if reset_num_timesteps or self._last_obs is None:
            # the env is reset: a rollout saved mid-way cannot be continued
            self._resume_rollout = None
        return super()._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)

    def _predict_terminal_values(self, terminal_observations: list[Any]) -> np.ndarray:
        """V(s) for a list of single (unbatched) observations, in one forward pass."""
        if isinstance(self.observation_space, spaces.Dict):
            batch: Any = {key: np.stack([obs[key] for obs in terminal_observations]) for key in self.observation_space.spaces}
        else:
            batch = np.stack(terminal_observations)
        obs_tensor, _ = self.policy.obs_to_tensor(batch)
        with th.inference_mode(), self._autocast():
            return self.policy.predict_values(self._model_input(obs_tensor)).float().cpu().numpy().flatten()

    # ------------------------------------------------------------------ update
    def train(self) -> None:
        """Update policy and value function from the current rollout buffer (one PPOG update)."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)  # type: ignore[operator]
        if self.clip_range_vf is not None:
            clip_range_vf = self.clip_range_vf(self._current_progress_remaining)  # type: ignore[operator]
        # Entropy decay: once per update, before the epochs (course code)
        self._n_train_updates += 1
        ent_coef = self.current_ent_coef
        policy_loss_fn = POLICY_LOSSES[self.policy_loss]
        self._check_finite_rollout()

        entropy_losses = []
        pg_losses, value_losses = [], []
        clip_fractions, masked_fractions = [], []

        continue_training = True
        for epoch in range(self.n_epochs):
            approx_kl_divs = []
            for rollout_data in self.rollout_buffer.get(self.batch_size):
                actions = rollout_data.actions
                if isinstance(self.action_space, spaces.Discrete):
                    actions = rollout_data.actions.long().flatten()

                with self._autocast():
                    observations = self._model_input(rollout_data.observations)
                    values, log_prob, entropy = self.policy.evaluate_actions(observations, actions)
                values, log_prob = values.flatten().float(), log_prob.float()
                if entropy is not None:
                    entropy = entropy.float()

                advantages = rollout_data.advantages
                # Normalization does not make sense if mini batchsize == 1, see SB3 issue #325
                if self.normalize_advantage and len(advantages) > 1:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

                policy_loss, zero_grad_mask = policy_loss_fn(advantages, log_prob, rollout_data.old_log_prob, clip_range)

                pg_losses.append(policy_loss.item())
                masked_fraction = th.mean(zero_grad_mask.float()).item()
                masked_fractions.append(masked_fraction)
                if self.policy_loss == "clip":
                    ratio = th.exp(log_prob - rollout_data.old_log_prob)
                    clip_fractions.append(th.mean((th.abs(ratio - 1) > clip_range).float()).item())
                else:
                    clip_fractions.append(masked_fraction)

                if self.clip_range_vf is None:
                    values_pred = values
                else:
                    values_pred = rollout_data.old_values + th.clamp(
                        values - rollout_data.old_values, -clip_range_vf, clip_range_vf
                    )
                value_loss = F.mse_loss(rollout_data.returns, values_pred)
                value_losses.append(value_loss.item())

                if entropy is None:
                    entropy_loss = -th.mean(-log_prob)
                else:
                    entropy_loss = -th.mean(entropy)
                entropy_losses.append(entropy_loss.item())

                loss = policy_loss + ent_coef * entropy_loss + self.vf_coef * value_loss

                # Approximate reverse KL for early stopping: SB3 issue #417, http://joschu.net/blog/kl-approx.html
                with th.no_grad():
                    log_ratio = log_prob - rollout_data.old_log_prob
                    approx_kl_div = th.mean((th.exp(log_ratio) - 1) - log_ratio).cpu().numpy()
                    approx_kl_divs.append(approx_kl_div)

                if self.target_kl is not None and approx_kl_div > 1.5 * self.target_kl:
                    continue_training = False
                    if self.verbose >= 1:
                        print(f"Early stopping at step {epoch} due to reaching max kl: {approx_kl_div:.2f}")
                    break

                if not np.isfinite(pg_losses[-1] + value_losses[-1] + entropy_losses[-1]):
                    self._raise_non_finite(
                        "loss",
                        f"policy loss {pg_losses[-1]}, value loss {value_losses[-1]}, entropy loss {entropy_losses[-1]}",
                    )

                self.policy.optimizer.zero_grad()
                loss.backward()
                grad_norm = th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                if not th.isfinite(grad_norm):
                    self._raise_non_finite("gradient", f"gradient norm {grad_norm.item()}")
                self.policy.optimizer.step()

            self._n_updates += 1
            if not continue_training:
                break

        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())

        self.logger.record("train/entropy_loss", np.mean(entropy_losses))
        self.logger.record("train/policy_gradient_loss", np.mean(pg_losses))
        self.logger.record("train/value_loss", np.mean(value_losses))
        self.logger.record("train/approx_kl", np.mean(approx_kl_divs))
        self.logger.record("train/clip_fraction", np.mean(clip_fractions))
        self.logger.record("train/masked_fraction", np.mean(masked_fractions))
        self.logger.record("train/loss", loss.item())
        self.logger.record("train/explained_variance", explained_var)
        self.logger.record("train/ent_coef", ent_coef)
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
        if self.clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)

    def _check_finite_rollout(self) -> None:
        buffer = self.rollout_buffer
        for name in ("rewards", "values", "advantages", "returns"):
            array = getattr(buffer, name)
            if not np.all(np.isfinite(array)):
                self._raise_non_finite(name, f"{np.size(array) - np.count_nonzero(np.isfinite(array))} non-finite entries")

    def _raise_non_finite(self, quantity: str, details: str) -> None:
        raise NonFiniteError(
            f"PPOG update {self._n_train_updates} (timestep {self.num_timesteps}): non-finite {quantity} ({details}). "
            "The optimizer step was not taken: the weights are those of the last good step. Likely causes: "
            "rewards or observations too large or NaN (scale or clip them, e.g. VecNormalize), a learning rate "
            "too high, or max_grad_norm too large."
        )

    def learn(
        self: SelfPPOG,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "PPOG",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfPPOG:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    # ------------------------------------------------------------------ save / load
    def save(
        self,
        path: str | pathlib.Path | Any,
        exclude: Any = None,
        include: Any = None,
    ) -> None:
        """SB3's ``save`` plus the random-number-generator states, written atomically for file paths
        (to a temporary file in the same folder, fsynced, then renamed over the target).

        Called during a rollout (by a callback), a save to a path also stores the part of the rollout collected
        so far (``partial_rollout.npz`` in the archive), so that training resumes exactly from it.
        """
        self._rng_states = _capture_rng_states(self.action_space)
        try:
            if not isinstance(path, (str, os.PathLike)):
                super().save(path, exclude=exclude, include=include)
                return
            final = pathlib.Path(path)
            if final.suffix == "":
                final = final.with_name(final.name + ".zip")  # SB3's save adds .zip the same way
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
            try:
                super().save(tmp, exclude=exclude, include=include)
                self._append_partial_rollout(tmp)
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, final)
            finally:
                if tmp.exists():
                    tmp.unlink()
        finally:
            del self._rng_states

    def _append_partial_rollout(self, zip_path: pathlib.Path) -> None:
        buffer = self.rollout_buffer
        if not self._rollout_in_progress or buffer.pos == 0:
            return
        arrays = {}
        for name in PARTIAL_ROLLOUT_FIELDS:
            value = getattr(buffer, name)
            if isinstance(value, dict):  # DictRolloutBuffer observations
                arrays.update({f"{name}/{key}": array[: buffer.pos] for key, array in value.items()})
            else:
                arrays[name] = value[: buffer.pos]
        payload = io.BytesIO()
        np.savez(payload, **arrays)
        with zipfile.ZipFile(zip_path, "a") as archive:
            archive.writestr(PARTIAL_ROLLOUT_MEMBER, payload.getvalue())

    @classmethod
    def load(cls: type[SelfPPOG], path: Any, env: GymEnv | None = None, *args: Any, **kwargs: Any) -> SelfPPOG:  # type: ignore[override]
        """SB3's ``load``, then restore the random-number-generator states saved with the model.

        A path is checked first: a file that is not a complete SB3 model archive, or a model saved by another
        algorithm, raises a ``ValueError`` saying so. Model files are pickles: load only files you trust.

        Pass ``force_reset=False`` (with the same env object) to continue the interrupted episode exactly;
        SB3's default ``force_reset=True`` resets the env at the next ``learn()`` (SB3 issue #1024).
        """
        if isinstance(path, (str, os.PathLike)):
            path = _check_model_file(path)
        model = super().load(path, env, *args, **kwargs)
        if isinstance(path, pathlib.Path):
            model._resume_rollout = _read_partial_rollout(path)
        rng_states = model.__dict__.pop("_rng_states", None)
        if rng_states is not None:
            _restore_rng_states(rng_states, model.action_space)
        return model


PARTIAL_ROLLOUT_MEMBER = "partial_rollout.npz"
PARTIAL_ROLLOUT_FIELDS = ("observations", "actions", "rewards", "episode_starts", "values", "log_probs")


def _read_partial_rollout(path: pathlib.Path) -> dict[str, np.ndarray] | None:
    with zipfile.ZipFile(path) as archive:
        if PARTIAL_ROLLOUT_MEMBER not in archive.namelist():
            return None
        with np.load(io.BytesIO(archive.read(PARTIAL_ROLLOUT_MEMBER)), allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}


def _restore_partial_rollout(buffer: RolloutBuffer, arrays: dict[str, np.ndarray]) -> int:
    """Copy a checkpoint's partial rollout into a freshly reset buffer; return the number of steps restored."""
    pos = len(arrays["rewards"])
    if pos > buffer.buffer_size or arrays["rewards"].shape[1:] != (buffer.n_envs,):
        warnings.warn(
            f"The checkpoint's partial rollout ({arrays['rewards'].shape[0]} steps x {arrays['rewards'].shape[1]} envs) "
            f"does not fit this model's buffer (n_steps={buffer.buffer_size}, n_envs={buffer.n_envs}): starting a new rollout."
        )
        return 0
    for name, array in arrays.items():
        field, _, key = name.partition("/")
        target = getattr(buffer, field)
        (target[key] if key else target)[:pos] = array
    buffer.pos = pos
    buffer.full = pos == buffer.buffer_size
    return pos


def _check_model_file(path: str | os.PathLike) -> pathlib.Path:
    """Resolve ``path`` as SB3 does (``.zip`` may be omitted) and check that it is a complete PPOG model archive."""
    resolved = pathlib.Path(path)
    if not resolved.exists() and resolved.suffix != ".zip":
        resolved = resolved.with_name(resolved.name + ".zip")
    if not resolved.exists():
        raise FileNotFoundError(f"No model file at {path!s} (nor {resolved!s}).")
    try:
        with zipfile.ZipFile(resolved) as archive:
            names = set(archive.namelist())
            bad_member = archive.testzip()  # CRC of every member: catches truncated or corrupted files
            if bad_member is not None:
                raise ValueError(f"{resolved} is corrupted: member {bad_member!r} fails its checksum.")
            if not {"data", "policy.pth"} <= names:
                raise ValueError(f"{resolved} is a zip archive but not a Stable-Baselines3 model (members: {sorted(names)}).")
            data = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, EOFError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{resolved} is not a model file: {error}. It may be truncated (an interrupted copy or save) or not a model."
        ) from None
    missing = [key for key in ("policy_loss", "ent_coef_decay", "_n_train_updates") if key not in data]
    if missing:
        raise ValueError(
            f"{resolved} was not saved by PPOG (no {', '.join(missing)} field): it was saved by another algorithm "
            "(e.g. SB3's PPO). Load it with that algorithm's class, or copy its weights with "
            "PPOG.set_parameters(other.get_parameters()) where the architectures match."
        )
    return resolved


def has_native_bf16(device: th.device) -> bool:
    """Whether bfloat16 matrix math is native on ``device`` (so ``precision="bf16"`` is a speed-up)."""
    if device.type == "cuda":
        return th.cuda.is_available() and th.cuda.is_bf16_supported()
    if device.type == "cpu":
        cpu = th.cpu
        return bool(
            getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
            or getattr(cpu, "_is_amx_tile_supported", lambda: False)()
        )
    return False


def _capture_rng_states(action_space: spaces.Space) -> dict[str, Any]:
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": th.get_rng_state(),
        "action_space": action_space.np_random.bit_generator.state,
    }
    if th.cuda.is_available() and th.cuda.is_initialized():
        states["torch_cuda"] = th.cuda.get_rng_state_all()
    return states


def _restore_rng_states(states: dict[str, Any], action_space: spaces.Space) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    th.set_rng_state(states["torch"])
    action_space.np_random.bit_generator.state = states["action_space"]
    if "torch_cuda" in states and th.cuda.is_available():
        th.cuda.set_rng_state_all(states["torch_cuda"])


# ---------------------------------------------------------------------- argument checks
def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"Unknown {name}={value!r}: allowed values are {', '.join(repr(a) for a in allowed)}.")


def _initial_value(value: Any, name: str) -> float:
    return parse_schedule(value, name)(1.0)


def _check_hyperparameters(
    *,
    ent_coef: Any,
    ent_coef_decay: float,
    ent_coef_min: float,
    clip_range: Any,
    batch_size: int,
    normalize_advantage: bool,
    n_steps: int,
    n_epochs: int,
    vf_learning_rate: Any,
) -> None:
    """Reject bad hyperparameters at construction, each error naming the argument and what is allowed."""
    initial_ent_coef = _initial_value(ent_coef, "ent_coef")
    if not (isinstance(ent_coef_decay, (int, float)) and 0.0 < ent_coef_decay <= 1.0):
        raise ValueError(f"ent_coef_decay={ent_coef_decay!r} must be in (0, 1] (1 disables the decay).")
    if not (isinstance(ent_coef_min, (int, float)) and 0.0 <= ent_coef_min <= initial_ent_coef):
        raise ValueError(
            f"ent_coef_min={ent_coef_min!r} must be in [0, initial ent_coef={initial_ent_coef}] "
            "(a floor above the start would make the decay meaningless)."
        )
    initial_clip = _initial_value(clip_range, "clip_range")
    if not initial_clip > 0:
        raise ValueError(f"clip_range={clip_range!r} must be > 0 (at the start of training it is {initial_clip}).")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size={batch_size!r} must be an integer >= 1.")
    if normalize_advantage and batch_size < 2:
        raise ValueError(
            f"batch_size={batch_size} must be >= 2 with normalize_advantage=True "
            "(see SB3 issue #440); pass normalize_advantage=False to use batch_size=1."
        )
    if not (isinstance(n_steps, int) and n_steps >= 1):
        raise ValueError(f"n_steps={n_steps!r} must be an integer >= 1.")
    if not (isinstance(n_epochs, int) and n_epochs >= 1):
        raise ValueError(f"n_epochs={n_epochs!r} must be an integer >= 1.")
    if vf_learning_rate is not None:
        initial_vf_lr = _initial_value(vf_learning_rate, "vf_learning_rate")
        if not initial_vf_lr > 0:
            raise ValueError(f"vf_learning_rate={vf_learning_rate!r} must be > 0 (or None: same as learning_rate).")


def _check_action_space(action_space: spaces.Space) -> None:
    if not isinstance(action_space, SUPPORTED_ACTION_SPACES):
        raise ValueError(
            f"Unsupported action space {action_space!r}: PPOG supports "
            f"{', '.join(s.__name__ for s in SUPPORTED_ACTION_SPACES)}."
        )
