"""PPOG as a drop-in for PPO: policies, action spaces, SB3 features, save/load, logging."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from helpers import SmallImageEnv
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import (
    IdentityEnv,
    IdentityEnvBox,
    IdentityEnvMultiBinary,
    IdentityEnvMultiDiscrete,
    SimpleMultiObsEnv,
)
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure

from ppog_sb3 import PPOG
from ppog_sb3.common.buffers import PPOGDictRolloutBuffer, PPOGRolloutBuffer

TINY = dict(n_steps=32, batch_size=32, n_epochs=2, policy_kwargs=dict(net_arch=[16]), seed=0, device="cpu")


@pytest.mark.parametrize(
    "env_fn",
    [
        lambda: IdentityEnv(4),
        lambda: IdentityEnvBox(),
        lambda: IdentityEnvMultiDiscrete(3),
        lambda: IdentityEnvMultiBinary(3),
    ],
    ids=["Discrete", "Box", "MultiDiscrete", "MultiBinary"],
)
@pytest.mark.parametrize("policy_loss", ["ppog", "clip"])
def test_action_spaces(env_fn, policy_loss):
    model = PPOG("MlpPolicy", env_fn(), policy_loss=policy_loss, **TINY)
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    model.learn(128)
    after = model.policy.state_dict()
    assert any(not th.equal(before[k], after[k]) for k in before)
    obs, _ = env_fn().reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert model.action_space.contains(np.asarray(action, dtype=model.action_space.dtype))


def test_multi_input_policy_uses_dict_buffer():
    model = PPOG("MultiInputPolicy", SimpleMultiObsEnv(random_start=False), **{**TINY, "policy_kwargs": None})
    assert isinstance(model.rollout_buffer, PPOGDictRolloutBuffer)
    model.learn(64)


def test_cnn_policy_stores_uint8():
    model = PPOG(
        "CnnPolicy",
        SmallImageEnv(),
        n_steps=16,
        batch_size=16,
        n_epochs=1,
        seed=0,
        device="cpu",
        policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=16)),
    )
    assert isinstance(model.rollout_buffer, PPOGRolloutBuffer)
    assert model.rollout_buffer.observations.dtype == np.uint8
    model.learn(32)


def test_unsupported_action_space():
    class TupleActionEnv(IdentityEnv):
        def __init__(self):
            super().__init__(2)
            self.action_space = spaces.Tuple((spaces.Discrete(2), spaces.Discrete(2)))

    with pytest.raises(ValueError, match=r"action space.*Box, Discrete, MultiDiscrete, MultiBinary"):
        PPOG("MlpPolicy", TupleActionEnv())


def test_sb3_features_callbacks_eval_tensorboard(tmp_path):
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=1)
    model = PPOG(
        "MlpPolicy",
        env,
        tensorboard_log=str(tmp_path / "tb"),
        target_kl=0.02,
        clip_range_vf=0.5,
        learning_rate=lambda p: 1e-3 * p,
        clip_range=lambda p: 0.1 + 0.1 * p,
        **TINY,
    )
    checkpoints = CheckpointCallback(save_freq=32, save_path=str(tmp_path / "ckpt"), name_prefix="ppog")
    evaluation = EvalCallback(eval_env, n_eval_episodes=2, eval_freq=64, log_path=str(tmp_path / "eval"))
    model.learn(256, callback=[checkpoints, evaluation], progress_bar=False)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [f"ppog_{n}_steps.zip" for n in (128, 192, 256, 64)]
    assert (tmp_path / "eval" / "evaluations.npz").exists()
    assert list((tmp_path / "tb").glob("PPOG_1/events.out.tfevents.*"))
    mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=2)
    assert mean > 0
    # continue training without resetting the counters
    model.learn(64, reset_num_timesteps=False)
    assert model.num_timesteps == 320


def test_logged_keys(tmp_path):
    model = PPOG(
        "MlpPolicy",
        "CartPole-v1",
        ent_coef=0.1,
        ent_coef_decay=0.5,
        ent_coef_min=0.01,
        vf_learning_rate=1e-3,
        learning_rate=3e-4,
        **TINY,
    )
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(128)  # 4 updates; SB3 dumps an update's train/ values at the next iteration, so 3 are written
    import pandas as pd

    log = pd.read_csv(tmp_path / "progress.csv")
    for key in [
        "train/policy_gradient_loss",
        "train/value_loss",
        "train/entropy_loss",
        "train/approx_kl",
        "train/clip_fraction",
        "train/ent_coef",
        "train/learning_rate",
        "train/vf_learning_rate",
        "train/explained_variance",
        "train/masked_fraction",
    ]:
        assert key in log.columns, key
    logged = log["train/ent_coef"].dropna().tolist()
    assert logged == pytest.approx([0.05, 0.025, 0.0125])  # decayed once per update, before the epochs
    assert log["train/vf_learning_rate"].dropna().iloc[-1] == pytest.approx(1e-3)
    assert log["train/learning_rate"].dropna().iloc[-1] == pytest.approx(3e-4)
    # SB3's clip_fraction (|ratio - 1| > eps) counts a superset of the samples PPOG masks
    assert (log["train/clip_fraction"].dropna() >= log["train/masked_fraction"].dropna()).all()


def test_separate_learning_rates_reach_the_optimizer():
    model = PPOG("MlpPolicy", "CartPole-v1", learning_rate=1e-4, vf_learning_rate=lambda p: 1e-3 * p, **TINY)
    groups = {g["name"]: g for g in model.policy.optimizer.param_groups}
    critic_ids = {id(p) for p in groups["critic"]["params"]}
    expected_critic = list(model.policy.value_net.parameters()) + list(model.policy.mlp_extractor.value_net.parameters())
    assert critic_ids == {id(p) for p in expected_critic}
    # the shared features extractor (here a Flatten without parameters) and the actor stay with the actor
    assert {id(p) for p in model.policy.action_net.parameters()} <= {id(p) for p in groups["actor"]["params"]}
    model.learn(64)
    groups = {g["name"]: g for g in model.policy.optimizer.param_groups}
    progress = model._current_progress_remaining
    assert groups["critic"]["lr"] == pytest.approx(1e-3 * progress)
    assert groups["actor"]["lr"] == pytest.approx(1e-4)


def test_shared_cnn_trunk_follows_actor_rate():
    model = PPOG(
        "CnnPolicy",
        SmallImageEnv(),
        vf_learning_rate=1e-3,
        learning_rate=1e-4,
        n_steps=16,
        batch_size=16,
        policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=16)),
        device="cpu",
    )
    groups = {g["name"]: g for g in model.policy.optimizer.param_groups}
    trunk = {id(p) for p in model.policy.features_extractor.parameters()}
    assert trunk <= {id(p) for p in groups["actor"]["params"]}
    separate = PPOG(
        "CnnPolicy",
        SmallImageEnv(),
        vf_learning_rate=1e-3,
        n_steps=16,
        batch_size=16,
        device="cpu",
        policy_kwargs=dict(share_features_extractor=False, features_extractor_kwargs=dict(features_dim=16)),
    )
    groups = {g["name"]: g for g in separate.policy.optimizer.param_groups}
    assert {id(p) for p in separate.policy.vf_features_extractor.parameters()} <= {id(p) for p in groups["critic"]["params"]}


def test_save_load_predict_set_env_parameters(tmp_path):
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = PPOG("MlpPolicy", env, ent_coef="lin_0.05", policy_loss="ppog", advantage_estimator="nstep", **TINY)
    model.learn(128)
    obs = env.reset()
    action, _ = model.predict(obs, deterministic=True)
    model.save(tmp_path / "model")
    loaded = PPOG.load(tmp_path / "model", env=env)
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], action)
    assert loaded.advantage_estimator == "nstep" and loaded.policy_loss == "ppog"
    assert loaded.rollout_buffer.advantage_estimator == "nstep"
    params = model.get_parameters()
    other = PPOG("MlpPolicy", env, **TINY)
    other.set_parameters(params)
    np.testing.assert_array_equal(other.predict(obs, deterministic=True)[0], action)
    loaded.set_env(make_vec_env("CartPole-v1", n_envs=2, seed=1))
    loaded.learn(64, reset_num_timesteps=False)
    assert loaded.num_timesteps == 192


def test_every_ppo_argument_is_accepted_with_the_same_default():
    import inspect

    ppo = inspect.signature(PPO.__init__).parameters
    ppog = inspect.signature(PPOG.__init__).parameters
    for name, parameter in ppo.items():
        assert name in ppog, name
        assert ppog[name].default == parameter.default, name


def test_env_id_string():
    model = PPOG("MlpPolicy", "Pendulum-v1", **TINY)
    model.learn(32)
    assert isinstance(model.env.action_space, gym.spaces.Box)
