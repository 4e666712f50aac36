"""PPOG's optimizer: one optimizer, an ``actor`` and a ``critic`` parameter group (for ``vf_learning_rate``).

Rule for shared parameters: a features extractor shared by actor and critic (SB3's default for ``CnnPolicy``) is in
the actor's group and trains at ``learning_rate``; only critic-only parameters (``value_net``,
``mlp_extractor.value_net``, a separate ``vf_features_extractor``) are in the critic's group. The shared trunk then
behaves exactly as in PPO, and ``vf_learning_rate`` changes only what belongs to the critic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch as th
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from ppog_sb3.common.optimizer import is_single_group_state, map_single_group_state


class ActorCriticOptimizer(OnPolicyAlgorithm):
    """Builds the two-group optimizer and takes parameters from one-group models (SB3's PPO) too."""

    vf_lr_schedule: Callable[[float], float] | None

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
        groups: list[dict[str, Any]] = [{"params": actor_params, "name": "actor"}]
        if critic_params:
            vf_lr = self.lr_schedule(1) if self.vf_lr_schedule is None else self.vf_lr_schedule(1)
            groups.append({"params": critic_params, "name": "critic", "lr": vf_lr})
        policy.optimizer = policy.optimizer_class(groups, lr=self.lr_schedule(1), **policy.optimizer_kwargs)  # type: ignore[call-arg]

    def set_parameters(
        self, load_path_or_dict: str | dict[str, Any], exact_match: bool = True, device: th.device | str = "auto"
    ) -> None:
        """SB3's ``set_parameters``, also from a model with one optimizer parameter group (SB3's ``PPO``).

        PPOG's optimizer has an ``actor`` and a ``critic`` group (for ``vf_learning_rate``); PPO's has one. Its Adam
        state is mapped parameter by parameter onto PPOG's groups (the policies' parameter order is the same for the
        same architecture); PPOG's group settings (learning rates) stay. So ``ppog.set_parameters(ppo.get_parameters())``
        and ``ppog.set_parameters("ppo_model.zip")`` copy a PPO's policy and optimizer into PPOG.

        The mapping runs inside SB3's load of the optimizer (a torch ``load_state_dict`` pre-hook, registered for
        this call only), so every other input goes through SB3 and torch as for PPO and fails as it fails there: a
        malformed dict in SB3's order (the policy's strict load first, its ``RuntimeError``, as SB3's own
        ``test_save_load`` expects), a PPO state of another architecture with torch's ``RuntimeError`` for the policy,
        an optimizer state that does not fit with a ``ValueError`` (the mapping's, which names the cause, where torch
        raises its own).
        """

        def map_ppo_state(optimizer: th.optim.Optimizer, state: dict[str, Any]) -> dict[str, Any] | None:
            if is_single_group_state(state) and len(optimizer.param_groups) > 1:
                return map_single_group_state(state, optimizer, list(self.policy.parameters()))
            return None  # PPOG's own layout, or not an optimizer state: torch loads (or refuses) it as given

        handle = self.policy.optimizer.register_load_state_dict_pre_hook(map_ppo_state)
        try:
            super().set_parameters(load_path_or_dict, exact_match=exact_match, device=device)
        finally:
            handle.remove()
