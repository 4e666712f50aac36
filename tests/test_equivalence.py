"""PPOG(policy_loss="clip"), with no entropy decay and no separate critic rate, reproduces SB3's PPO bit for bit."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from helpers import SmallImageEnv
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnvWrapper

from ppog_sb3 import PPOG


def _train(algo, env_fn, **kwargs):
    model = algo(env=env_fn(), seed=7, device="cpu", **kwargs)
    model.learn(kwargs.pop("total", 0) or 4 * model.n_steps * model.n_envs)
    return model


def _assert_same_parameters(a, b):
    """Exactly the same parameters (``torch.equal``), and the same Adam state."""
    params_a = a.policy.state_dict()
    params_b = b.policy.state_dict()
    assert params_a.keys() == params_b.keys()
    for key in params_a:
        assert th.equal(params_a[key], params_b[key]), key
    for param_a, param_b in zip(a.policy.parameters(), b.policy.parameters()):
        state_a, state_b = a.policy.optimizer.state[param_a], b.policy.optimizer.state[param_b]
        assert state_a.keys() == state_b.keys()
        for name in state_a:
            assert th.equal(state_a[name], state_b[name]), name
    return params_a


def _assert_moved(trained, algo, env_fn, **kwargs):
    """Training changed the parameters (against an untrained model of the same seed): else equality is vacuous."""
    untrained = algo(env=env_fn(), seed=7, device="cpu", **kwargs)
    trained_params = trained.policy.state_dict()
    moved = max((trained_params[k] - v).abs().max().item() for k, v in untrained.policy.state_dict().items())
    assert moved > 1e-3, "training did not change the parameters: the comparison would be vacuous"


class SimultaneousTruncations(VecEnvWrapper):
    """Counts the steps on which two or more envs are truncated at once (the CNN test's one-forward-per-env case)."""

    simultaneous = 0

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        truncated = sum(bool(done and info.get("TimeLimit.truncated", False)) for done, info in zip(dones, infos))
        self.simultaneous += truncated >= 2
        return obs, rewards, dones, infos


def _short_cartpole():
    # 40-step time limit: truncations happen, so the V(final observation) bootstrap is exercised too
    return make_vec_env(lambda: gym.make("CartPole-v1", max_episode_steps=40), n_envs=3, seed=3)


MLP_KWARGS = dict(
    policy="MlpPolicy",
    n_steps=64,
    batch_size=48,
    n_epochs=3,
    learning_rate=1e-3,
    clip_range=0.15,
    ent_coef=0.01,
    gae_lambda=0.9,
    policy_kwargs=dict(net_arch=[32, 32]),
)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"clip_range_vf": 0.2, "target_kl": 0.0005},  # small enough to stop early (checked below)
        {"normalize_advantage": False, "learning_rate": lambda p: 1e-3 * p},
    ],
    ids=["defaults", "vf-clip+target-kl", "no-norm+lr-schedule"],
)
def test_clip_reproduces_ppo_mlp(extra):
    kwargs = {**MLP_KWARGS, **extra}
    ppo = _train(PPO, _short_cartpole, **kwargs)
    ppog = _train(PPOG, _short_cartpole, policy_loss="clip", **kwargs)
    _assert_same_parameters(ppo, ppog)
    _assert_moved(ppo, PPO, _short_cartpole, **kwargs)
    assert ppo.num_timesteps == ppog.num_timesteps
    assert ppo._n_updates == ppog._n_updates
    if "target_kl" in extra:  # early stopping happened: fewer epochs than 4 rollouts x n_epochs
        assert ppo._n_updates < 4 * kwargs["n_epochs"]


def test_clip_reproduces_ppo_gsde_continuous():
    kwargs = dict(
        policy="MlpPolicy",
        n_steps=32,
        batch_size=32,
        n_epochs=2,
        use_sde=True,
        sde_sample_freq=4,
        policy_kwargs=dict(net_arch=[16]),
    )

    def env_fn():
        return make_vec_env("Pendulum-v1", n_envs=2, seed=1)

    ppo = _train(PPO, env_fn, **kwargs)
    ppog = _train(PPOG, env_fn, policy_loss="clip", **kwargs)
    _assert_same_parameters(ppo, ppog)
    _assert_moved(ppo, PPO, env_fn, **kwargs)


def test_clip_reproduces_ppo_cnn():
    """Bit for bit on a CNN, including a step where both envs are truncated at once (asserted): SB3 bootstraps each
    with its own forward pass, and a batched pass rounds differently. Catches one batched pass for the truncated envs
    in ``ExactResumeMixin.collect_rollouts``."""

    def env_fn():
        return SimultaneousTruncations(make_vec_env(lambda: SmallImageEnv(max_steps=20), n_envs=2, seed=5))

    kwargs = dict(
        policy="CnnPolicy",
        n_steps=32,
        batch_size=32,
        n_epochs=2,
        policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=32)),
    )
    ppo = _train(PPO, env_fn, **kwargs)
    ppog = _train(PPOG, env_fn, policy_loss="clip", **kwargs)
    _assert_same_parameters(ppo, ppog)
    _assert_moved(ppo, PPO, env_fn, **kwargs)
    assert ppo.env.simultaneous >= 1 and ppog.env.simultaneous == ppo.env.simultaneous


def test_ppog_loss_differs_from_ppo():
    """The default loss is not PPO's: same seed, different parameters after a few updates."""
    ppo = _train(PPO, _short_cartpole, **MLP_KWARGS)
    ppog = _train(PPOG, _short_cartpole, **MLP_KWARGS)
    diffs = [(ppo.policy.state_dict()[k] - v).abs().max().item() for k, v in ppog.policy.state_dict().items()]
    assert max(diffs) > 1e-4
    assert np.isfinite(diffs).all()


# ---------------------------------------------------------------------- the rollout's categorical forward pass
def _categorical_policy(n_actions: int, share: bool, obs_dim: int = 5):
    from stable_baselines3.common.policies import ActorCriticPolicy

    return ActorCriticPolicy(
        gym.spaces.Box(-1, 1, (obs_dim,), np.float32),
        gym.spaces.Discrete(n_actions),
        lambda _: 1e-3,
        net_arch=[8],
        share_features_extractor=share,
    )


@pytest.mark.parametrize("share", [True, False])
@pytest.mark.parametrize("bf16", [False, True])
def test_the_rollouts_categorical_forward_is_the_policys_bit_for_bit(share, bf16):
    """``categorical_forward`` (the rollout's pass without torch's distribution objects) returns exactly what SB3's
    ``ActorCriticPolicy.forward`` returns from the same random state: actions, values, log-probabilities, over
    batch sizes, action counts and seeds, with shared and separate features, in fp32 and under bf16 autocast. Catches
    a change of the numbers (seen red with ``log_prob`` read off the unnormalized logits; ``softmax`` of the raw
    logits and ``multinomial`` without replacement give the same numbers, so they are not changes)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from ppog_sb3.common.exact_resume import categorical_forward

    @settings(max_examples=40, deadline=None)
    @given(st.integers(1, 9), st.integers(2, 7), st.integers(0, 2**16))
    def check(batch, n_actions, seed):
        th.manual_seed(seed)
        policy = _categorical_policy(n_actions, share)
        obs = th.rand(batch, 5) * 2 - 1
        with th.inference_mode(), th.autocast("cpu", dtype=th.bfloat16, enabled=bf16):
            th.manual_seed(seed + 1)
            expected = policy(obs)
            th.manual_seed(seed + 1)
            got = categorical_forward(policy, obs)
        for a, b in zip(expected, got):
            assert a.dtype == b.dtype and a.shape == b.shape and th.equal(a, b)

    check()


def test_the_lean_pass_is_taken_only_for_sb3s_own_categorical_policy():
    """A policy that changes the pass (a subclass's ``forward``, a forward hook) or another action space keeps
    ``policy(obs)``: the lean pass must never skip user code. Catches the check reduced to ``isinstance``."""
    from stable_baselines3.common.policies import ActorCriticPolicy

    from ppog_sb3.common.exact_resume import _plain_categorical

    class Custom(ActorCriticPolicy):
        def forward(self, obs, deterministic=False):
            return super().forward(obs, deterministic)

    assert _plain_categorical(_categorical_policy(3, True))
    box = ActorCriticPolicy(gym.spaces.Box(-1, 1, (5,)), gym.spaces.Box(-1, 1, (2,)), lambda _: 1e-3, net_arch=[8])
    custom = Custom(gym.spaces.Box(-1, 1, (5,)), gym.spaces.Discrete(3), lambda _: 1e-3, net_arch=[8])
    hooked = _categorical_policy(3, True)
    hooked.register_forward_hook(lambda module, args, output: None)
    assert not any(_plain_categorical(p) for p in (box, custom, hooked))
