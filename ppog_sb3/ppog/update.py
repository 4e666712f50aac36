"""PPOG's update, written once for the whole family: :class:`PPOGUpdate` (``PPOG``, ``MaskablePPOG``, ``RecurrentPPOG``).

SB3's PPO and sb3-contrib's ``MaskablePPO`` and ``RecurrentPPO`` each carry a full copy of ``train()``, because SB3
has no loss hook; the three copies differ in two places that change the numbers (besides trivia: ``MaskablePPO``
normalizes even a one-sample minibatch's advantages, to NaN, where PPO does not). Here ``train()`` is written once, and
those two places are methods a class overrides, as its parent differs from PPO:

- :meth:`PPOGUpdate._evaluate_minibatch`: the policy's ``evaluate_actions`` call (``MaskablePPO`` adds the action
  masks, ``RecurrentPPO`` the LSTM states and episode starts; PPOG wraps it in its bf16 / channels-last hooks);
- :meth:`PPOGUpdate._valid_steps` and :meth:`PPOGUpdate._value_loss`: ``RecurrentPPO`` pads its sequences, so its
  losses and statistics are means over the real (unpadded) steps, and its value loss is written as such a mean.

Everything else (the policy loss, ``"ppog"`` or ``"clip"``; the entropy decay and the live schedules; the actor and
critic learning rates; advantage normalization; ``target_kl``; the checks that raise ``NonFiniteError``; the logged
keys) is this module's, or the mixins' it builds on (:class:`~ppog_sb3.ppog.live_schedules.LiveSchedules`,
:class:`~ppog_sb3.ppog.optimizer.ActorCriticOptimizer`, :class:`~ppog_sb3.common.exact_resume.ExactResumeMixin`).
With ``policy_loss="clip"`` each class computes exactly its parent's numbers (``tests/test_equivalence.py``,
``tests/test_maskable.py``, ``tests/test_recurrent.py``); ``tests/test_family.py`` checks that no class has a copy.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.utils import explained_variance
from torch.nn import functional as F

from ppog_sb3.common.buffers import ADVANTAGE_ESTIMATORS, estimator_lambda
from ppog_sb3.common.exact_resume import ExactResumeMixin
from ppog_sb3.common.finite import first_non_finite, non_finite_error
from ppog_sb3.common.losses import POLICY_LOSSES, clip_fraction
from ppog_sb3.ppog import arguments
from ppog_sb3.ppog.live_schedules import LiveSchedules
from ppog_sb3.ppog.optimizer import ActorCriticOptimizer


class MinibatchLoss(NamedTuple):
    """One minibatch's loss (with gradient) and the numbers ``train()`` logs of it."""

    loss: th.Tensor
    policy_loss: float
    value_loss: float
    entropy_loss: float
    approx_kl: np.ndarray
    clip_fraction: float
    masked_fraction: float


class PPOGUpdate(LiveSchedules, ActorCriticOptimizer, ExactResumeMixin):
    """PPOG's ``train()`` and the state it needs, for any SB3 on-policy algorithm of the PPO family (module docstring)."""

    policy_loss: str
    advantage_estimator: str
    batch_size: int | None
    n_epochs: int
    normalize_advantage: bool
    target_kl: float | None

    _model_file_keys: ClassVar[tuple[str, ...]] = ("policy_loss", "ent_coef_decay", "_n_train_updates")
    #: sb3-contrib's classes take ``batch_size=None`` (the whole rollout as one minibatch); SB3's PPO does not.
    _batch_size_optional: ClassVar[bool] = False

    def _init_ppog(
        self, policy_loss: str, ent_coef_decay: float, ent_coef_min: float, vf_learning_rate: Any, advantage_estimator: str
    ) -> None:
        """PPOG's attributes, after the parent's ``__init__``; checks every argument PPOG gives a meaning or a limit."""
        arguments.check_choice("policy_loss", policy_loss, tuple(POLICY_LOSSES))
        arguments.check_choice("advantage_estimator", advantage_estimator, ADVANTAGE_ESTIMATORS)
        self.policy_loss = policy_loss
        self.ent_coef_decay = ent_coef_decay
        self.ent_coef_min = ent_coef_min
        self.vf_learning_rate = vf_learning_rate
        self.advantage_estimator = advantage_estimator
        self._check_live_attributes()
        # any integral type (np.int64 from YAML configs and Optuna, as PPO accepts), stored as int
        self.n_steps = arguments.as_int("n_steps", self.n_steps)
        self.n_epochs = arguments.as_int("n_epochs", self.n_epochs)
        if self.batch_size is not None or not self._batch_size_optional:
            self.batch_size = arguments.check_batch_size(self.batch_size, self.normalize_advantage)
        if self.env is not None:
            arguments.check_buffer_size(self.n_steps, self.env.num_envs, self.normalize_advantage)
        # Number of completed train() calls, one per rollout ("updates" in the course code). SB3's _n_updates counts
        # epochs instead. The entropy decay is a closed form of this counter, so saving it is enough to resume.
        self._n_train_updates = 0
        # Where the current entropy-decay segment starts: (update counter, decay factor reached there). (0, 1.0) unless
        # ent_coef or ent_coef_decay was changed on the live model (see _sync_schedules).
        self._ent_coef_origin: tuple[int, float] = (0, 1.0)

    # ------------------------------------------------------------------ where the family differs
    def _evaluate_minibatch(self, rollout_data: Any, actions: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor | None]:
        """``values, log_prob, entropy`` of a minibatch under the current policy (SB3's PPO: observations, actions)."""
        return self.policy.evaluate_actions(rollout_data.observations, actions)

    def _valid_steps(self, rollout_data: Any) -> th.Tensor | None:
        """The minibatch's real steps as a boolean mask, where the buffer pads sequences (None: every step is real)."""
        return None

    def _value_loss(self, returns: th.Tensor, values_pred: th.Tensor) -> th.Tensor:
        """The critic's loss on the real steps (SB3's PPO: ``F.mse_loss``)."""
        return F.mse_loss(returns, values_pred)

    # ------------------------------------------------------------------ update
    def _minibatch_loss(
        self, rollout_data: Any, clip_range: float, clip_range_vf: float | None, ent_coef: float
    ) -> MinibatchLoss:
        """PPO's minibatch loss with PPOG's policy loss: means over the real steps (:meth:`_valid_steps`)."""
        actions = rollout_data.actions
        if isinstance(self.action_space, spaces.Discrete):
            actions = rollout_data.actions.long().flatten()
        values, log_prob, entropy = self._evaluate_minibatch(rollout_data, actions)
        values = values.flatten()
        advantages, old_log_prob = rollout_data.advantages, rollout_data.old_log_prob
        old_values, returns = rollout_data.old_values, rollout_data.returns
        valid = self._valid_steps(rollout_data)
        if valid is not None:  # padded sequences: every mean below runs over the real steps only
            values, log_prob, advantages, old_log_prob = values[valid], log_prob[valid], advantages[valid], old_log_prob[valid]
            old_values, returns = old_values[valid], returns[valid]
            entropy = None if entropy is None else entropy[valid]

        # Normalization does not make sense if mini batchsize == 1, see SB3 issue #325
        if self.normalize_advantage and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

        policy_loss, zero_grad_mask = POLICY_LOSSES[self.policy_loss](advantages, log_prob, old_log_prob, clip_range)
        with th.no_grad():
            # SB3's meaning for both losses (|ratio - 1| > eps), so PPO and PPOG dashboards compare like with like
            clip_frac = clip_fraction(th.exp(log_prob - old_log_prob), clip_range).item()
            masked_fraction = th.mean(zero_grad_mask.float()).item()

        if clip_range_vf is None:
            values_pred = values
        else:
            values_pred = old_values + th.clamp(values - old_values, -clip_range_vf, clip_range_vf)
        value_loss = self._value_loss(returns, values_pred)

        if entropy is None:
            entropy_loss = -th.mean(-log_prob)
        else:
            entropy_loss = -th.mean(entropy)

        loss = policy_loss + ent_coef * entropy_loss + self.vf_coef * value_loss

        # Approximate reverse KL for early stopping: SB3 issue #417, http://joschu.net/blog/kl-approx.html
        with th.no_grad():
            log_ratio = log_prob - old_log_prob
            approx_kl_div = th.mean((th.exp(log_ratio) - 1) - log_ratio).cpu().numpy()
        return MinibatchLoss(
            loss, policy_loss.item(), value_loss.item(), entropy_loss.item(), approx_kl_div, clip_frac, masked_fraction
        )

    def train(self) -> None:
        """Update policy and value function from the current rollout buffer (one PPOG update)."""
        self.policy.set_training_mode(True)
        self._sync_schedules()
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)
        clip_range_vf = None if self.clip_range_vf is None else self.clip_range_vf(self._current_progress_remaining)
        # Entropy decay: once per update, before the epochs (course code). The counter advances only when the update
        # completes, so an update stopped by NonFiniteError does not consume a decay step.
        ent_coef = self.ent_coef_schedule(self._current_progress_remaining, self._n_train_updates + 1)
        self._check_finite_rollout()

        losses: list[MinibatchLoss] = []
        continue_training = True
        for epoch in range(self.n_epochs):
            approx_kl_divs = []
            for rollout_data in self.rollout_buffer.get(self.batch_size):
                minibatch = self._minibatch_loss(rollout_data, clip_range, clip_range_vf, ent_coef)
                losses.append(minibatch._replace(loss=minibatch.loss.detach()))  # the numbers, not the graph
                approx_kl_divs.append(minibatch.approx_kl)

                if self.target_kl is not None and minibatch.approx_kl > 1.5 * self.target_kl:
                    continue_training = False
                    if self.verbose >= 1:
                        print(f"Early stopping at step {epoch} due to reaching max kl: {minibatch.approx_kl:.2f}")
                    break

                if not np.isfinite(minibatch.policy_loss + minibatch.value_loss + minibatch.entropy_loss):
                    self._raise_non_finite(
                        "loss",
                        f"policy loss {minibatch.policy_loss}, value loss {minibatch.value_loss}, "
                        f"entropy loss {minibatch.entropy_loss}",
                    )

                self.policy.optimizer.zero_grad()
                minibatch.loss.backward()
                grad_norm = th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                if not th.isfinite(grad_norm):
                    self._raise_non_finite("gradient", f"gradient norm {grad_norm.item()}")
                self.policy.optimizer.step()

            self._n_updates += 1
            if not continue_training:
                break

        self._n_train_updates += 1
        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())

        self.logger.record("train/entropy_loss", np.mean([m.entropy_loss for m in losses]))
        self.logger.record("train/policy_gradient_loss", np.mean([m.policy_loss for m in losses]))
        self.logger.record("train/value_loss", np.mean([m.value_loss for m in losses]))
        self.logger.record("train/approx_kl", np.mean(approx_kl_divs))
        self.logger.record("train/clip_fraction", np.mean([m.clip_fraction for m in losses]))
        self.logger.record("train/masked_fraction", np.mean([m.masked_fraction for m in losses]))
        self.logger.record("train/loss", losses[-1].loss.item())
        self.logger.record("train/explained_variance", explained_var)
        self.logger.record("train/ent_coef", ent_coef)
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
        if clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)

    # ------------------------------------------------------------------ non-finite numbers
    def _check_finite_rollout(self) -> None:
        found = first_non_finite(
            (name, getattr(self.rollout_buffer, name)) for name in ("rewards", "values", "advantages", "returns")
        )
        if found is not None:
            self._raise_non_finite(found[0], f"{found[1]} non-finite entries")

    def _raise_non_finite(self, quantity: str, details: str) -> None:
        where = f"{type(self).__name__} update {self._n_train_updates + 1} (timestep {self.num_timesteps})"
        raise non_finite_error(where, quantity, details)


class ContribPPOG(PPOGUpdate):
    """PPOG on top of an sb3-contrib algorithm (``MaskablePPO``, ``RecurrentPPO``): its set-up, then PPOG's.

    The parent builds the policy, the rollout buffer and the clip-range schedules, and keeps its own rollout loop
    (masks, LSTM states); PPOG adds its schedules and its actor and critic optimizer groups, and, for
    ``advantage_estimator="nstep"``, runs the buffer's GAE with lambda = 1 (the constructor's ``gae_lambda`` unused).
    """

    _batch_size_optional: ClassVar[bool] = True

    def _setup_model(self) -> None:
        super()._setup_model()
        self.rollout_buffer.gae_lambda = estimator_lambda(self.advantage_estimator, self.gae_lambda)
        self._setup_schedules()
        self._build_optimizer()
