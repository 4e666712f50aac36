"""PPOG: "PPO, Gilad's version", as a Stable-Baselines3 on-policy algorithm."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.vec_env import VecEnv

from ppog_sb3.common.buffers import PPOGDictRolloutBuffer, PPOGRolloutBuffer
from ppog_sb3.common.finite import first_non_finite
from ppog_sb3.common.frame_buffer import FrameStackRolloutBuffer
from ppog_sb3.common.lane_rollout import collect_lane_rollout, find_lanes, lanes_unsupported
from ppog_sb3.common.precision import channels_last_input, use_bf16
from ppog_sb3.common.rollout_thread import use_rollout_thread
from ppog_sb3.common.schedules import ScheduleLike
from ppog_sb3.ppog import arguments
from ppog_sb3.ppog.arguments import PRECISIONS, SUPPORTED_ACTION_SPACES
from ppog_sb3.ppog.policies import CnnPolicy, MlpPolicy, MultiInputPolicy
from ppog_sb3.ppog.update import PPOGUpdate

SelfPPOG = TypeVar("SelfPPOG", bound="PPOG")


class PPOG(PPOGUpdate, OnPolicyAlgorithm):
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
    - Exact resume (:class:`~ppog_sb3.common.exact_resume.ExactResumeMixin`): ``save`` stores the random-number-generator
      states (and a partial rollout); ``load`` keeps them on the model, leaving the process's generators alone, and
      ``load(path, env=env, force_reset=False).learn(n, reset_num_timesteps=False)`` puts them back and continues
      exactly as an uninterrupted run on the same env object. ``save`` writes to a temporary file and renames it:
      a crash never leaves a half-written model.
    - Live changes: ``learning_rate``, ``vf_learning_rate``, ``clip_range``, ``clip_range_vf``, ``ent_coef``,
      ``ent_coef_decay`` and ``ent_coef_min`` set on a model (e.g. from a callback) take effect at the next update.
    - ``set_parameters`` also takes a PPO model's parameters (its one-group Adam state is mapped onto PPOG's two).
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
    :param rollout_thread: How the rollout is run. ``True``: its forward passes on a worker thread of their own,
        which keeps torch's idle OpenMP workers from spinning on the cores the environment needs (the same numbers as
        ``False``, the plain loop; :mod:`ppog_sb3.common.rollout_thread`). ``"lanes"``: on an env built in lanes
        (``make_atari_vec_env(..., lanes=k)``, a :class:`~ppog_sb3.envs.lanes.LanedVecEnv`), each lane stepped on a
        thread of its own without waiting for the others: faster on a CPU, the same buffer contents from other
        random draws, callbacks after the rollout (:mod:`ppog_sb3.common.lane_rollout`). ``"auto"``, the default:
        lanes on a CPU device where the env is in lanes and torch has a thread per lane, else the worker thread on a
        CPU device with more than one torch thread, else the plain loop.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    _foreign_model_hint: ClassVar[str] = (
        "Load it with that algorithm's class, or copy its weights (policy and Adam state) into a PPOG model of the same "
        "architecture: model = PPOG(<same policy, policy_kwargs>, env); model.set_parameters(path)."
    )

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,  # SB3's, feeding images to bf16 autocast without a float32 copy (ppog/policies.py)
        "MultiInputPolicy": MultiInputPolicy,
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
        rollout_thread: bool | str = "auto",
        _init_setup_model: bool = True,
    ):
        arguments.check_choice("precision", precision, PRECISIONS)
        arguments.check_rollout_thread(rollout_thread)
        if env is not None and not isinstance(env, str):
            arguments.check_action_space(env.action_space)

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

        self.rollout_buffer_kwargs = dict(self.rollout_buffer_kwargs)  # a copy: the caller's dict is theirs
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.clip_range = clip_range
        self.clip_range_vf = clip_range_vf
        self.normalize_advantage = normalize_advantage
        self.target_kl = target_kl
        self._init_ppog(policy_loss, ent_coef_decay, ent_coef_min, vf_learning_rate, advantage_estimator)
        self.precision = precision
        self.channels_last = channels_last
        self.rollout_thread = rollout_thread
        if self.env is not None:
            buffer_size = self.env.num_envs * self.n_steps
            if buffer_size % self.batch_size > 0:
                warnings.warn(
                    f"You have specified a mini-batch size of {self.batch_size},"
                    f" but because the rollout buffer is of size `n_steps * n_envs = {buffer_size}`,"
                    f" after every {buffer_size // self.batch_size} untruncated mini-batches,"
                    f" there will be a truncated mini-batch of size {buffer_size % self.batch_size}\n"
                    f"We recommend using a `batch_size` that is a factor of `n_steps * n_envs`.\n"
                    f"Info: (n_steps={self.n_steps} and n_envs={self.env.num_envs})"
                )

        if _init_setup_model:
            self._setup_model()
            if self.env is not None:  # rollout_thread="lanes" on an env that cannot: say so now, not at learn()
                self._use_lanes(self.env)  # (not in load(): a model loaded to be evaluated needs no lanes)

    # ------------------------------------------------------------------ set-up
    def _setup_model(self) -> None:
        frame_stack = None
        if self.rollout_buffer_class is None:
            frame_stack = arguments.fast_path_frame_stack(self.env, self.observation_space)
            if frame_stack is not None:  # the fast Atari path: each frame stored once (docs/fast_atari.md)
                self.rollout_buffer_class = FrameStackRolloutBuffer
            elif isinstance(self.observation_space, spaces.Dict):
                self.rollout_buffer_class = PPOGDictRolloutBuffer
            else:
                self.rollout_buffer_class = PPOGRolloutBuffer
        # The buffer gets the user's kwargs plus PPOG's; the user's dict (saved with the model) is left as given.
        # A frame stack chosen here is kept with them, so a loaded model rebuilds the same buffer without the env.
        user_kwargs = self.rollout_buffer_kwargs
        if frame_stack is not None:
            user_kwargs = {**user_kwargs, "frame_stack": frame_stack}
        self.rollout_buffer_kwargs = arguments.rollout_buffer_kwargs(
            self.rollout_buffer_class, user_kwargs, self.advantage_estimator, self.channels_last, self.observation_space
        )
        try:
            super()._setup_model()
        finally:
            self.rollout_buffer_kwargs = user_kwargs
        self._setup_schedules()
        self._use_bf16 = use_bf16(self.precision, self.device)
        if self.channels_last:
            self.policy.to(memory_format=th.channels_last)  # type: ignore[call-overload]
        self._build_optimizer()
        obs_space = self.observation_space
        spaces_to_check = obs_space.spaces.values() if isinstance(obs_space, spaces.Dict) else [obs_space]
        self._check_observations = any(np.issubdtype(space.dtype, np.floating) for space in spaces_to_check)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_check_observations", "_use_bf16"]

    def _model_input(self, obs: Any) -> Any:
        """Image observations in channels-last layout when asked for (see :func:`channels_last_input`)."""
        return channels_last_input(obs) if self.channels_last else obs

    def _use_rollout_thread(self) -> bool:
        """``rollout_thread`` for this rollout (``"auto"`` reads the device and torch's thread count now)."""
        arguments.check_rollout_thread(self.rollout_thread)  # it may have been set on the live model
        return use_rollout_thread("auto" if self.rollout_thread == "lanes" else self.rollout_thread, self.device)

    def _use_lanes(self, env: Any) -> bool:
        """Whether this rollout runs in lanes (``rollout_thread``: ``"lanes"``, or ``"auto"`` on a CPU device)."""
        arguments.check_rollout_thread(self.rollout_thread)
        if self.rollout_thread == "lanes":
            why = lanes_unsupported(self, env)
            if why is not None:
                raise arguments.InvalidArgumentError(
                    f"rollout_thread='lanes' needs an env in lanes, a Discrete action space and SB3's own actor-critic "
                    f"policy, but {why}; allowed values here: True, False and 'auto'."
                )
            return True
        if self.rollout_thread != "auto" or self.device.type != "cpu" or lanes_unsupported(self, env) is not None:
            return False
        # a torch thread per lane at least: with fewer (a study's one-thread runs) the lanes would use more cores
        return th.get_num_threads() >= len(find_lanes(env)[0].lanes)  # type: ignore[index]

    def collect_rollouts(
        self, env: VecEnv, callback: BaseCallback, rollout_buffer: RolloutBuffer, n_rollout_steps: int
    ) -> bool:
        """In lanes where :meth:`_use_lanes` says so (:func:`~ppog_sb3.common.lane_rollout.collect_lane_rollout`),
        else :meth:`ExactResumeMixin.collect_rollouts`; a loaded checkpoint's partial rollout always continues in
        the latter, which restores it."""
        if self._resume_rollout is None and self._use_lanes(env):
            return collect_lane_rollout(self, env, callback, rollout_buffer, n_rollout_steps)
        return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)

    def _autocast(self):
        """bf16 autocast context when bf16 is in use (see ``precision``), a no-op otherwise."""
        return th.autocast(device_type=self.device.type, dtype=th.bfloat16, enabled=self._use_bf16)

    # ------------------------------------------------------------------ rollouts (the loop: ExactResumeMixin)
    def _check_rollout_observations(self, obs: Any) -> None:
        if self._check_observations:
            found = first_non_finite(obs.items() if isinstance(obs, dict) else [("observations", obs)])
            if found is not None:
                self._raise_non_finite("observations", f"{found[1]} non-finite entries in {found[0]!r} at rollout")

    # ------------------------------------------------------------------ update (the step: PPOGUpdate)
    def _evaluate_minibatch(self, rollout_data: Any, actions: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor | None]:
        """SB3's ``evaluate_actions`` inside PPOG's bf16 and channels-last hooks; the results in float32."""
        with self._autocast():
            values, log_prob, entropy = self.policy.evaluate_actions(self._model_input(rollout_data.observations), actions)
        return values.float(), log_prob.float(), None if entropy is None else entropy.float()

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
