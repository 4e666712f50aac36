"""Optuna search space of PPOG for rl-baselines3-zoo: a sampler and its trial-parameters converter.

The zoo looks samplers up in ``rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER[algo]`` (called as
``sampler(trial, n_actions, n_envs, additional_args)``) and converts a stored trial's raw parameters back to
model keyword arguments with ``HYPERPARAMS_CONVERTER[algo](trial.params)`` (``--trial-id``). The sampler below
only draws raw parameters and hands them to :func:`convert_ppog_params`, so both paths give the same kwargs.

Search space (raw Optuna parameter -> PPOG argument):

- ``batch_size_pow``: ``batch_size = 2**p``, p in [4, 10]
- ``n_steps_pow``: ``n_steps = 2**p``, p in [5, 12] (the zoo's PPO range)
- ``one_minus_gamma``: ``gamma = 1 - x``, x log-uniform in [1e-4, 0.03]
- ``one_minus_gae_lambda``: ``gae_lambda = 1 - x``, x log-uniform in [1e-4, 0.1]
- ``learning_rate``: log-uniform in [1e-5, 2e-3] (the actor's and the shared trunk's rate)
- ``vf_lr_ratio``: ``vf_learning_rate = learning_rate * r``, r log-uniform in [0.2, 5]
- ``ent_coef``: log-uniform in [1e-8, 0.1] (initial entropy coefficient)
- ``one_minus_ent_coef_decay``: ``ent_coef_decay = 1 - x``, x log-uniform in [1e-5, 1e-2] (per update)
- ``ent_coef_min_fraction``: ``ent_coef_min = ent_coef * f``, f uniform in [0, 0.5]
- ``clip_range``: {0.1, 0.2, 0.3, 0.4}
- ``n_epochs``: {1, 5, 10, 20}
- ``max_grad_norm``: uniform in [0.3, 2]
- ``policy_loss``: {"ppog", "clip"}: PPOG's masked gradient or PPO's clipped surrogate
- ``net_arch``: {"tiny", "small", "medium"} (separate pi/vf heads, as the zoo's PPO sampler)
- ``activation_fn``: {"tanh", "relu"}

Design decisions:

- ``vf_learning_rate`` and ``ent_coef_min`` are sampled *relative* to ``learning_rate`` and ``ent_coef``:
  PPOG requires ``ent_coef_min <= ent_coef``, which a fraction in [0, 0.5] guarantees for every trial, and
  what matters for the critic is its rate compared with the actor's, which a ratio expresses directly
  (an absolute range would waste most trials on nonsensical combinations).
- The entropy decay is sampled as ``1 - decay`` on a log scale: 1e-5 per update is "practically no decay"
  over a tuning budget, 1e-2 halves the coefficient every 69 updates; the course code's 0.9996 (4e-4) sits
  in the middle.
- ``batch_size`` is clamped to the rollout size ``n_steps * n_envs`` in the sampler (the trial's user
  attribute ``batch_size`` shows the effective value). SB3's rollout buffer already yields the whole
  rollout as a single minibatch when ``batch_size`` exceeds it, so the clamp changes no numbers; it only
  silences PPOG's "truncated mini-batch" warning. The converter, which does not know ``n_envs``, leaves it.
- Parameters can be pinned for a search with ``ppog-zoo train ... --fixed-params n_steps_pow:6 net_arch:tiny``
  (Optuna's ``PartialFixedSampler``), using the raw names of the table above.
"""

from __future__ import annotations

from typing import Any

import optuna
from torch import nn

NET_ARCHS: dict[str, dict[str, list[int]]] = {
    "tiny": {"pi": [64], "vf": [64]},
    "small": {"pi": [64, 64], "vf": [64, 64]},
    "medium": {"pi": [256, 256], "vf": [256, 256]},
}

ACTIVATION_FNS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
}

#: Raw parameter names of the PPOG search space (the names ``--fixed-params`` accepts).
SEARCH_SPACE_PARAMS = (
    "batch_size_pow",
    "n_steps_pow",
    "one_minus_gamma",
    "one_minus_gae_lambda",
    "learning_rate",
    "vf_lr_ratio",
    "ent_coef",
    "one_minus_ent_coef_decay",
    "ent_coef_min_fraction",
    "clip_range",
    "n_epochs",
    "max_grad_norm",
    "policy_loss",
    "net_arch",
    "activation_fn",
)


def convert_ppog_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw Optuna parameters (``trial.params``) -> PPOG keyword arguments.

    Parameters it does not know are passed through unchanged (as the zoo's converters do), so a study
    whose search space was extended keeps loading.
    """
    params = dict(sampled_params)
    hyperparams: dict[str, Any] = {}

    for name in ("batch_size", "n_steps"):
        if f"{name}_pow" in params:
            hyperparams[name] = 2 ** int(params.pop(f"{name}_pow"))
    if "one_minus_gamma" in params:
        hyperparams["gamma"] = 1.0 - params.pop("one_minus_gamma")
    if "one_minus_gae_lambda" in params:
        hyperparams["gae_lambda"] = 1.0 - params.pop("one_minus_gae_lambda")
    if "one_minus_ent_coef_decay" in params:
        hyperparams["ent_coef_decay"] = 1.0 - params.pop("one_minus_ent_coef_decay")

    learning_rate = params.get("learning_rate")
    if "vf_lr_ratio" in params:
        ratio = params.pop("vf_lr_ratio")
        if learning_rate is None:
            raise ValueError("vf_lr_ratio needs learning_rate in the same trial parameters.")
        hyperparams["vf_learning_rate"] = float(learning_rate) * ratio

    ent_coef = params.get("ent_coef")
    if "ent_coef_min_fraction" in params:
        fraction = params.pop("ent_coef_min_fraction")
        if ent_coef is None:
            raise ValueError("ent_coef_min_fraction needs ent_coef in the same trial parameters.")
        hyperparams["ent_coef_min"] = float(ent_coef) * fraction

    policy_kwargs: dict[str, Any] = {}
    if "net_arch" in params:
        policy_kwargs["net_arch"] = NET_ARCHS[params.pop("net_arch")]
    if "activation_fn" in params:
        policy_kwargs["activation_fn"] = ACTIVATION_FNS[params.pop("activation_fn")]
    if policy_kwargs:
        hyperparams["policy_kwargs"] = policy_kwargs

    # learning_rate, ent_coef, clip_range, n_epochs, max_grad_norm, policy_loss, ...: unchanged
    hyperparams.update(params)
    return hyperparams


def sample_ppog_params(trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Sampler for PPOG hyperparameters (rl-zoo 2.9 sampler signature).

    :param trial: the Optuna trial
    :param n_actions: size of a continuous action space (unused: PPOG has no action noise)
    :param n_envs: number of parallel environments of the trial (caps ``batch_size`` at the rollout size)
    :param additional_args: the zoo's extra arguments (HER settings; unused by an on-policy algorithm)
    :return: PPOG keyword arguments
    """
    batch_size_pow = trial.suggest_int("batch_size_pow", 4, 10)
    n_steps_pow = trial.suggest_int("n_steps_pow", 5, 12)
    one_minus_gamma = trial.suggest_float("one_minus_gamma", 1e-4, 0.03, log=True)
    one_minus_gae_lambda = trial.suggest_float("one_minus_gae_lambda", 1e-4, 0.1, log=True)
    learning_rate = trial.suggest_float("learning_rate", 1e-5, 2e-3, log=True)
    vf_lr_ratio = trial.suggest_float("vf_lr_ratio", 0.2, 5.0, log=True)
    ent_coef = trial.suggest_float("ent_coef", 1e-8, 0.1, log=True)
    one_minus_ent_coef_decay = trial.suggest_float("one_minus_ent_coef_decay", 1e-5, 1e-2, log=True)
    ent_coef_min_fraction = trial.suggest_float("ent_coef_min_fraction", 0.0, 0.5)
    clip_range = trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3, 0.4])
    n_epochs = trial.suggest_categorical("n_epochs", [1, 5, 10, 20])
    max_grad_norm = trial.suggest_float("max_grad_norm", 0.3, 2.0)
    policy_loss = trial.suggest_categorical("policy_loss", ["ppog", "clip"])
    net_arch = trial.suggest_categorical("net_arch", ["tiny", "small", "medium"])
    activation_fn = trial.suggest_categorical("activation_fn", ["tanh", "relu"])

    hyperparams = convert_ppog_params(
        {
            "batch_size_pow": batch_size_pow,
            "n_steps_pow": n_steps_pow,
            "one_minus_gamma": one_minus_gamma,
            "one_minus_gae_lambda": one_minus_gae_lambda,
            "learning_rate": learning_rate,
            "vf_lr_ratio": vf_lr_ratio,
            "ent_coef": ent_coef,
            "one_minus_ent_coef_decay": one_minus_ent_coef_decay,
            "ent_coef_min_fraction": ent_coef_min_fraction,
            "clip_range": clip_range,
            "n_epochs": n_epochs,
            "max_grad_norm": max_grad_norm,
            "policy_loss": policy_loss,
            "net_arch": net_arch,
            "activation_fn": activation_fn,
        }
    )
    rollout_size = hyperparams["n_steps"] * max(int(n_envs), 1)
    if hyperparams["batch_size"] > rollout_size:
        hyperparams["batch_size"] = rollout_size

    # Display the true values in the study (as the zoo's samplers do)
    for key in ("gamma", "gae_lambda", "n_steps", "batch_size", "vf_learning_rate", "ent_coef_decay", "ent_coef_min"):
        trial.set_user_attr(key, hyperparams[key])
    return hyperparams
