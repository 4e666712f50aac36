"""RecurrentPPOG: policy_loss="clip" is sb3-contrib's RecurrentPPO bit for bit (LSTM states carried across episode
starts, padded sequences, n_envs > 1); the PPOG loss averages over the real steps only (checked against a step-by-step
loop); the critic's LSTM follows vf_learning_rate; the LSTM states survive save and load; it learns CartPoleNoVel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from family_helpers import assert_same_state, cartpole, moved, vec
from sb3_contrib import RecurrentPPO

from ppog_sb3 import RecurrentPPOG

REPO = Path(__file__).resolve().parents[1]

SETTINGS = dict(
    policy="MlpLstmPolicy",
    n_steps=32,
    batch_size=40,  # 96 steps per rollout: minibatches cut sequences, which the buffer pads
    n_epochs=3,
    learning_rate=1e-3,
    clip_range=0.15,
    ent_coef=0.01,
    vf_coef=0.3,  # not a power of two: F.mse_loss's gradient then rounds differently from RecurrentPPO's written-out mean
    gae_lambda=0.9,
    policy_kwargs=dict(lstm_hidden_size=16, net_arch=[16]),
    seed=7,
    device="cpu",
)


def short_cartpole(seed: int = 3):
    """3 envs, 25-step time limit: episodes end (terminated or truncated) inside every rollout."""
    return vec(lambda: cartpole(max_episode_steps=25), n_envs=3, seed=seed)


def _padded(model) -> bool:
    return any(bool((batch.mask == 0).any()) for batch in model.rollout_buffer.get(model.batch_size))


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"policy_kwargs": dict(lstm_hidden_size=16, net_arch=[16], shared_lstm=True, enable_critic_lstm=False)},
        {"policy_kwargs": dict(lstm_hidden_size=16, net_arch=[16], enable_critic_lstm=False)},
        {"clip_range_vf": 0.2, "target_kl": 1e-6, "normalize_advantage": False},
        {"learning_rate": lambda p: 1e-3 * p, "batch_size": None},
    ],
    ids=["critic-lstm", "shared-lstm", "no-critic-lstm", "vf-clip+target-kl+no-norm", "lr-schedule+whole-rollout"],
)
def test_clip_reproduces_recurrent_ppo(extra):
    """Four rollouts of 3 envs whose episodes end mid-rollout: torch.equal parameters and Adam state. Catches the LSTM
    states or episode starts left out of the update's evaluate call, losses averaged over the padding (RecurrentPPO
    averages over the real steps), and a value loss not written as RecurrentPPO writes it (F.mse_loss rounds otherwise)."""
    kwargs = {**SETTINGS, **extra}
    parent = RecurrentPPO(env=short_cartpole(), **kwargs)
    parent.learn(4 * 96)
    ours = RecurrentPPOG(env=short_cartpole(), policy_loss="clip", **kwargs)
    ours.learn(4 * 96)
    assert_same_state(parent, ours)
    assert moved(RecurrentPPO(env=short_cartpole(), **kwargs), ours) > 1e-3, "nothing trained: a vacuous comparison"
    starts = ours.rollout_buffer.episode_starts
    assert starts[1:].any(), "no episode started inside the rollout"
    if kwargs["batch_size"] is not None:
        assert _padded(ours), "no padded sequence: the comparison would not cover the padding"
    if "target_kl" in extra:
        assert ours._n_updates < 4 * kwargs["n_epochs"]  # early stopping happened


def test_clip_reproduces_recurrent_ppo_continuous_gsde():
    """Box actions (Pendulum) with gSDE, resampled every 4 steps: the std and the noise matrices as in RecurrentPPO."""
    kwargs = {**SETTINGS, "use_sde": True, "sde_sample_freq": 4, "batch_size": 32}
    parent = RecurrentPPO(env=vec(lambda: gym.make("Pendulum-v1"), seed=1), **kwargs)
    parent.learn(3 * 64)
    ours = RecurrentPPOG(env=vec(lambda: gym.make("Pendulum-v1"), seed=1), policy_loss="clip", **kwargs)
    ours.learn(3 * 64)
    assert_same_state(parent, ours)


def test_ppog_loss_averages_over_the_real_steps_only():
    """The PPOG loss of a padded minibatch equals an independent loop over its real steps: each sequence run step by
    step through the policy from its stored LSTM states, the advantages normalized over the real steps, PPO-clip's
    zero-gradient set by its definition, ``-A log pi`` averaged over the real steps. Catches padded steps counted in
    the mean or in the advantage normalization (the loss would differ by the padded share)."""
    model = RecurrentPPOG(env=short_cartpole(), **{**SETTINGS, "batch_size": 20})
    _, callback = model._setup_learn(96)
    model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
    with th.no_grad():  # a policy other than the rollout's: ratios away from 1, some outside the trust region
        for parameter in model.policy.parameters():
            parameter.add_(0.3 * th.randn_like(parameter))
    eps = 0.15
    for batch in model.rollout_buffer.get(20):
        seq_starts, n_seq = model.rollout_buffer.seq_start_indices, len(model.rollout_buffer.seq_start_indices)
        if not (batch.mask == 0).any():
            continue
        with th.no_grad():
            got = model._minibatch_loss(batch, clip_range=eps, clip_range_vf=None, ent_coef=0.0)
        max_len = len(batch.mask) // n_seq
        log_probs, advantages, old_log_probs = [], [], []
        for seq in range(n_seq):
            pi_states = (batch.lstm_states.pi[0][:, seq : seq + 1], batch.lstm_states.pi[1][:, seq : seq + 1])
            for step in range(int(batch.mask[seq * max_len : (seq + 1) * max_len].sum())):
                i = seq * max_len + step
                with th.no_grad():
                    dist, pi_states = model.policy.get_distribution(
                        batch.observations[i : i + 1], pi_states, batch.episode_starts[i : i + 1]
                    )
                log_probs.append(float(dist.log_prob(batch.actions[i : i + 1].long().flatten())))
                advantages.append(float(batch.advantages[i]))
                old_log_probs.append(float(batch.old_log_prob[i]))
        assert len(log_probs) == int(batch.mask.sum()) < len(batch.mask) and len(seq_starts) == n_seq
        a = np.array(advantages)
        a = (a - a.mean()) / (a.std(ddof=1) + 1e-8)
        terms = []
        for adv, log_prob, old in zip(a, log_probs, old_log_probs, strict=True):
            ratio = np.exp(log_prob - old)
            masked = (adv > 0 and ratio > 1 + eps) or (adv < 0 and ratio < 1 - eps)
            terms.append(0.0 if masked else -adv * log_prob)
        assert got.policy_loss == pytest.approx(sum(terms) / len(terms), rel=1e-5, abs=1e-6)
        assert 0 < got.masked_fraction < 1  # both kinds of steps are in the case
        return
    pytest.fail("no padded minibatch")


def test_the_critic_lstm_follows_vf_learning_rate():
    """lstm_critic (or the linear critic without one) is in the critic's group; a shared LSTM is the actor's."""

    def groups(**policy_kwargs):
        model = RecurrentPPOG(
            env=short_cartpole(),
            vf_learning_rate=5e-3,
            **{**SETTINGS, "policy_kwargs": dict(lstm_hidden_size=8, **policy_kwargs)},
        )
        by_name = {g["name"]: g for g in model.policy.optimizer.param_groups}
        assert by_name["critic"]["lr"] == 5e-3 and by_name["actor"]["lr"] == SETTINGS["learning_rate"]
        ids = {name: {id(p) for p in group["params"]} for name, group in by_name.items()}
        assert ids["actor"].isdisjoint(ids["critic"])
        assert ids["actor"] | ids["critic"] == {id(p) for p in model.policy.parameters()}
        return model.policy, ids

    policy, ids = groups()
    assert {id(p) for p in policy.lstm_critic.parameters()} <= ids["critic"]
    assert {id(p) for p in policy.lstm_actor.parameters()} <= ids["actor"]
    policy, ids = groups(enable_critic_lstm=False)
    assert {id(p) for p in policy.critic.parameters()} <= ids["critic"]
    policy, ids = groups(shared_lstm=True, enable_critic_lstm=False)
    assert {id(p) for p in policy.lstm_actor.parameters()} <= ids["actor"]


def test_lstm_states_are_saved_and_fit_checked(tmp_path):
    """save keeps the states the next step starts from; load restores them for the same number of envs, and starts
    from zero states (RecurrentPPO's) for another number."""
    model = RecurrentPPOG(env=short_cartpole(), **SETTINGS)
    model.learn(96)
    model.save(tmp_path / "model")
    loaded = RecurrentPPOG.load(tmp_path / "model", env=short_cartpole())
    for saved, restored in zip(model._last_lstm_states, loaded._last_lstm_states, strict=True):
        assert all(th.equal(a, b) and a.abs().sum() > 0 for a, b in zip(saved, restored, strict=True))
    other = RecurrentPPOG.load(tmp_path / "model", env=vec(cartpole, n_envs=2))
    assert all(t.shape[1] == 2 and not t.any() for pair in other._last_lstm_states for t in pair)
    other.learn(32, reset_num_timesteps=False)


def _benchmark():
    """benchmarks/family_learning.py as a module (the zoo's settings and their conversion live there once)."""
    spec = importlib.util.spec_from_file_location("family_learning", REPO / "benchmarks" / "family_learning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmarks_settings_are_the_zoos():
    """benchmarks/family_learning.py trains with rl-zoo's own ppo_lstm.yml CartPoleNoVel-v1 section."""
    import rl_zoo3
    import yaml
    from torch import nn

    section = yaml.safe_load((Path(rl_zoo3.__file__).parent / "hyperparams" / "ppo_lstm.yml").read_text())["CartPoleNoVel-v1"]
    ours = _benchmark().ZOO_CARTPOLE_NOVEL
    assert section.pop("normalize") is True
    assert eval(section.pop("policy_kwargs"), {"nn": nn}) == eval(ours["policy_kwargs"], {"nn": nn})
    assert section == {k: v for k, v in ours.items() if k != "policy_kwargs"}


@pytest.mark.slow
def test_solves_cartpole_novel_with_the_zoos_settings():
    """RecurrentPPOG with the zoo's tuned ppo_lstm CartPoleNoVel-v1 settings (benchmarks/family_learning.py, the zoo's
    VecNormalize and 10,000-step evaluations) reaches 475 within the zoo's 1e5 steps, then keeps >= 450 over 20 fresh
    episodes. CI stops at the first evaluation >= 475 (seed 0: at 20,000 steps on the AMD kind, 30,000 on the Intel AMX
    kind, whose kernels round differently; about 4-6 minutes at the ~100 steps/s of a 2-core CPU); the full budget,
    next to RecurrentPPO on the same seeds: ``benchmarks/family_learning.py lstm``."""
    import rl_zoo3.import_envs  # noqa: F401  (registers CartPoleNoVel-v1)
    from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecNormalize, sync_envs_normalization

    benchmark = _benchmark()
    settings = benchmark.ZOO_CARTPOLE_NOVEL

    def make(n_envs: int, seed: int, training: bool) -> VecNormalize:
        return VecNormalize(
            make_vec_env("CartPoleNoVel-v1", n_envs=n_envs, seed=seed), training=training, norm_reward=training
        )

    th.set_num_threads(1)
    env = make(settings["n_envs"], 0, True)
    model = RecurrentPPOG(env=env, seed=0, device="cpu", **benchmark.zoo_kwargs(settings))
    stop = StopTrainingOnRewardThreshold(reward_threshold=475, verbose=0)
    evaluations = EvalCallback(make(1, 10_000, False), callback_on_new_best=stop, eval_freq=10_000 // 8, n_eval_episodes=10)
    model.learn(settings["n_timesteps"], callback=evaluations)
    assert evaluations.best_mean_reward >= 475, f"not solved in {model.num_timesteps} steps"
    final_env = make(1, 20_000, False)
    sync_envs_normalization(env, final_env)
    mean, _ = evaluate_policy(model, final_env, n_eval_episodes=20, deterministic=True)
    assert mean >= 450, (mean, model.num_timesteps)
