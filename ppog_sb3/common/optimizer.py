"""Moving an optimizer state between models whose optimizers group the same parameters differently."""

from __future__ import annotations

from typing import Any

import torch as th


def is_single_group_state(state: Any) -> bool:
    """Whether ``state`` is an optimizer state dict with exactly one parameter group (SB3's PPO saves such).

    Only the groups are looked at: a state that is malformed otherwise fails in :func:`map_single_group_state` as
    in torch's ``load_state_dict`` (``KeyError: 'state'``)."""
    return isinstance(state, dict) and isinstance(state.get("param_groups"), list) and len(state["param_groups"]) == 1


def map_single_group_state(state: dict[str, Any], optimizer: th.optim.Optimizer, parameters: list[th.nn.Parameter]) -> dict:
    """A one-group optimizer state over ``parameters`` (in that order; SB3's policies build their optimizer over
    ``policy.parameters()``) as a state dict of ``optimizer``, which holds the same parameters in several groups.

    The per-parameter state (Adam's moments and step) is copied, so the source optimizer keeps its own tensors;
    ``optimizer``'s group settings (learning rates, names) stay.

    :raises ValueError: if the state has several groups, or its parameters do not match ``parameters`` in number or shape
    """
    if len(state["param_groups"]) != 1:
        raise ValueError(
            f"Cannot map an optimizer state with {len(state['param_groups'])} parameter groups onto "
            f"{len(optimizer.param_groups)} (only a single-group state, as SB3's PPO saves, maps)."
        )
    entries, source_indices = state["state"], state["param_groups"][0]["params"]
    if len(source_indices) != len(parameters):
        raise ValueError(
            f"The optimizer state has {len(source_indices)} parameters, this policy {len(parameters)}: "
            "the architectures differ (same policy class and policy_kwargs needed)."
        )
    position = {id(p): i for i, p in enumerate(p for group in optimizer.param_groups for p in group["params"])}
    mapped = {}
    for parameter, source_index in zip(parameters, source_indices):
        if source_index not in entries:
            continue  # no step taken yet for this parameter
        entry = entries[source_index]
        for key, value in entry.items():
            if isinstance(value, th.Tensor) and value.dim() > 0 and value.shape != parameter.shape:
                raise ValueError(
                    f"Optimizer state {key!r} of shape {tuple(value.shape)} does not fit a parameter of shape "
                    f"{tuple(parameter.shape)}: the architectures differ."
                )
        # copies: torch's load_state_dict keeps the given tensors, and the source optimizer still uses them
        mapped[position[id(parameter)]] = {k: v.clone() if isinstance(v, th.Tensor) else v for k, v in entry.items()}
    return {"state": mapped, "param_groups": optimizer.state_dict()["param_groups"]}
