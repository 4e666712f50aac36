"""Optuna search space of PPOG for rl-baselines3-zoo: the zoo's PPO search space plus PPOG's own parameters.

The zoo looks samplers up in ``rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER[algo]`` (called as
``sampler(trial, n_actions, n_envs, additional_args)``) and converts a stored trial's raw parameters back to
model keyword arguments with ``HYPERPARAMS_CONVERTER[algo](trial.params)`` (``--trial-id``).

- PPO's part is the zoo's own: :func:`sample_ppog_params` calls ``rl_zoo3.hyperparams_opt.sample_ppo_params``
  (``batch_size_pow``, ``n_steps_pow``, ``one_minus_gamma``, ``one_minus_gae_lambda``, ``learning_rate``,
  ``ent_coef``, ``clip_range``, ``n_epochs``, ``max_grad_norm``, ``net_arch``, ``activation_fn``; ranges, network
  sizes and activations as the zoo defines them) and :func:`convert_ppog_params` calls its
  ``convert_onpolicy_params``, so PPO and PPOG are searched over the same space and follow the zoo when it changes.
- ``--algo ppog_lstm`` (RecurrentPPOG): :func:`sample_ppog_lstm_params` is the zoo's ``sample_ppo_lstm_params`` (the
  ``ppo_lstm`` search space) plus the same PPOG parameters, converted by :func:`convert_ppog_params` as the zoo
  converts ``ppo_lstm`` trials (``convert_onpolicy_params``).
- PPOG's own raw parameters (:data:`PPOG_PARAMS`):

  * ``vf_lr_ratio``: ``vf_learning_rate = learning_rate * r``, r log-uniform in [0.2, 5]
  * ``one_minus_ent_coef_decay``: ``ent_coef_decay = 1 - x``, x log-uniform in [1e-5, 1e-2] (per update)
  * ``ent_coef_min_fraction``: ``ent_coef_min = ent_coef * f``, f uniform in [0, 0.5]
  * ``policy_loss``: {"ppog", "clip"}: PPOG's masked gradient or PPO's clipped surrogate

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
  (Optuna's ``PartialFixedSampler``), using the raw names of :func:`search_space_params`.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import optuna
from rl_zoo3.hyperparams_opt import convert_onpolicy_params, sample_ppo_lstm_params, sample_ppo_params

#: PPOG's raw parameters, on top of the zoo's PPO search space.
PPOG_PARAMS = ("vf_lr_ratio", "one_minus_ent_coef_decay", "ent_coef_min_fraction", "policy_loss")


@functools.cache
def search_space_params() -> tuple[str, ...]:
    """Raw parameter names of the whole search space (the names ``--fixed-params`` accepts): the zoo's PPO
    sampler's, read from one dry trial (so they follow the installed zoo), then :data:`PPOG_PARAMS`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    sample_ppo_params(trial, 0, 1, {})
    return (*trial.params, *PPOG_PARAMS)


def _convert_ppog_only(raw: dict[str, Any], learning_rate: float | None, ent_coef: float | None) -> dict[str, Any]:
    hyperparams: dict[str, Any] = {}
    if "one_minus_ent_coef_decay" in raw:
        hyperparams["ent_coef_decay"] = 1.0 - raw["one_minus_ent_coef_decay"]
    if "vf_lr_ratio" in raw:
        if learning_rate is None:
            raise ValueError("vf_lr_ratio needs learning_rate in the same trial parameters.")
        hyperparams["vf_learning_rate"] = float(learning_rate) * raw["vf_lr_ratio"]
    if "ent_coef_min_fraction" in raw:
        if ent_coef is None:
            raise ValueError("ent_coef_min_fraction needs ent_coef in the same trial parameters.")
        hyperparams["ent_coef_min"] = float(ent_coef) * raw["ent_coef_min_fraction"]
    if "policy_loss" in raw:
        hyperparams["policy_loss"] = raw["policy_loss"]
    return hyperparams


def convert_ppog_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw Optuna parameters (``trial.params``) -> PPOG keyword arguments: the zoo's ``convert_onpolicy_params`` for
    the PPO part, then PPOG's own parameters."""
    params = dict(sampled_params)
    own = {key: params.pop(key) for key in PPOG_PARAMS if key in params}
    hyperparams = convert_onpolicy_params(params)
    hyperparams.update(_convert_ppog_only(own, hyperparams.get("learning_rate"), hyperparams.get("ent_coef")))
    return hyperparams


def sample_ppog_params(trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Sampler for PPOG hyperparameters (rl-zoo 2.9 sampler signature): the zoo's PPO sampler, then PPOG's own.

    :param trial: the Optuna trial
    :param n_actions: size of a continuous action space (unused: PPOG has no action noise)
    :param n_envs: number of parallel environments of the trial (caps ``batch_size`` at the rollout size)
    :param additional_args: the zoo's extra arguments (HER settings; unused by an on-policy algorithm)
    :return: PPOG keyword arguments
    """
    return _with_ppog_params(trial, sample_ppo_params(trial, n_actions, n_envs, additional_args), n_envs)


def sample_ppog_lstm_params(trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Sampler for RecurrentPPOG (``--algo ppog_lstm``): the zoo's ``ppo_lstm`` sampler (``sample_ppo_lstm_params``),
    then PPOG's own parameters, as :func:`sample_ppog_params`. The converter is :func:`convert_ppog_params` (the zoo
    converts ``ppo_lstm`` trials with ``convert_onpolicy_params`` too)."""
    return _with_ppog_params(trial, sample_ppo_lstm_params(trial, n_actions, n_envs, additional_args), n_envs)


def _with_ppog_params(trial: optuna.Trial, hyperparams: dict[str, Any], n_envs: int) -> dict[str, Any]:
    """A zoo sampler's PPO hyperparameters plus PPOG's own (:data:`PPOG_PARAMS`), ``batch_size`` capped."""
    raw = {
        "vf_lr_ratio": trial.suggest_float("vf_lr_ratio", 0.2, 5.0, log=True),
        "one_minus_ent_coef_decay": trial.suggest_float("one_minus_ent_coef_decay", 1e-5, 1e-2, log=True),
        "ent_coef_min_fraction": trial.suggest_float("ent_coef_min_fraction", 0.0, 0.5),
        "policy_loss": trial.suggest_categorical("policy_loss", ["ppog", "clip"]),
    }
    hyperparams.update(_convert_ppog_only(raw, hyperparams["learning_rate"], hyperparams["ent_coef"]))
    rollout_size = hyperparams["n_steps"] * max(int(n_envs), 1)
    if hyperparams["batch_size"] > rollout_size:
        hyperparams["batch_size"] = rollout_size

    # Display the true values in the study (as the zoo's samplers do)
    for key in ("gamma", "gae_lambda", "n_steps", "batch_size", "vf_learning_rate", "ent_coef_decay", "ent_coef_min"):
        trial.set_user_attr(key, hyperparams[key])
    return hyperparams
