"""MinAtar: the plugin's ids, the paper's CNN, and PPOG's clip mode reproducing SB3's PPO on boolean boards."""

import subprocess

import gymnasium as gym
import minatar  # noqa: E402, F401  (the [study] extra, part of [dev]: the suite needs it, never skips)
import numpy as np
import pytest
import torch as th
from core_only import core_python
from helpers import assert_same_parameters
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import ppog_sb3
from ppog_sb3 import PPOG
from ppog_sb3.common.extractors import MinAtarCNN
from ppog_sb3.envs.minatar import GAMES, minatar_id

# (channels, actions) of the -v1 ids: the minatar package's game modules (minimal action sets)
SHAPES = {"Asterix": (4, 5), "Breakout": (4, 3), "Freeway": (7, 3), "Seaquest": (10, 6), "SpaceInvaders": (6, 4)}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_ids_make_the_minatar_games(name):
    env = gym.make(f"MinAtar/{name}-v1")
    channels, actions = SHAPES[name]
    assert env.observation_space.shape == (10, 10, channels) and env.observation_space.dtype == np.bool_
    assert env.action_space.n == actions
    assert gym.make(f"MinAtar/{name}-v0").action_space.n == 6  # all actions
    observation, _ = env.reset(seed=1)
    assert observation.shape == (10, 10, channels) and observation.any()


def test_same_seed_same_episode():
    def episode(seed):
        env = gym.make("MinAtar/Breakout-v1")
        env.action_space.seed(seed)
        observations = [env.reset(seed=seed)[0]]
        for _ in range(200):
            observation, _, terminated, truncated, _ = env.step(env.action_space.sample())
            observations.append(observation)
            if terminated or truncated:
                break
        return np.stack(observations)

    assert np.array_equal(episode(3), episode(3))
    assert not np.array_equal(episode(3), episode(4))


def test_registering_is_idempotent_and_names_are_checked():
    assert ppog_sb3.register_minatar_envs() == [minatar_id(game) for game in GAMES]
    with pytest.raises(ValueError, match="game='pong' is not a MinAtar game; allowed"):
        minatar_id("pong")
    with pytest.raises(ValueError, match="version=2 must be 0"):
        minatar_id("breakout", 2)


def test_without_the_extra_the_error_says_what_to_install():
    """`pip install .` alone (no [study] extra): the ids exist, making one says how to get minatar."""
    code = "import gymnasium as gym, ppog_sb3; gym.make('MinAtar/Breakout-v1')"
    proc = subprocess.run([core_python(), "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert 'ImportError: MinAtar environments need the minatar package: pip install "ppog-sb3[study]"' in proc.stderr


def test_cnn_is_the_papers_network():
    space = gym.make("MinAtar/Breakout-v1").observation_space
    cnn = MinAtarCNN(space)
    # 3x3 conv 4 -> 16 (weights + biases), then 16 * 8 * 8 -> 128
    assert sum(p.numel() for p in cnn.parameters()) == (4 * 16 * 9 + 16) + (16 * 8 * 8 * 128 + 128)
    boards = th.as_tensor(np.stack([space.sample() for _ in range(5)]))
    features = cnn(boards)
    assert features.shape == (5, 128) and features.dtype == th.float32 and (features >= 0).all()
    # channels last in: the same as the convolution of the channel-first boards
    conv, linear = cnn.conv[0], cnn.linear[0]
    expected = th.relu(linear(th.relu(conv(boards.float().permute(0, 3, 1, 2))).flatten(1)))
    assert th.equal(features, expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"observation_space": gym.spaces.Box(0, 1, (10, 10), bool)}, "must be \\(height, width, channels\\) boards"),
        ({"observation_space": gym.spaces.Box(0, 1, (2, 10, 4), bool)}, "at least 3x3"),
        ({"features_dim": 0}, "features_dim=0 and channels=16 must be >= 1"),
    ],
)
def test_cnn_refuses_bad_input(kwargs, message):
    kwargs = {"observation_space": gym.spaces.Box(0, 1, (10, 10, 4), bool), **kwargs}
    with pytest.raises(ValueError, match=message):
        MinAtarCNN(**kwargs)


STUDY_LIKE = dict(
    policy="MlpPolicy",
    policy_kwargs=dict(features_extractor_class=MinAtarCNN, net_arch=[]),
    n_steps=32,
    batch_size=64,
    n_epochs=2,
    learning_rate=2.5e-4,
    clip_range=0.1,
    ent_coef=0.01,
)


def test_clip_mode_reproduces_ppo_on_boolean_boards():
    """The study's ablation arm relies on it: PPOG(policy_loss='clip') on MinAtar is SB3's PPO, bit for bit."""

    def train(algo, **extra):
        env = make_vec_env("MinAtar/SpaceInvaders-v1", n_envs=4, seed=5)
        model = algo(env=env, seed=5, device="cpu", **STUDY_LIKE, **extra)
        model.learn(3 * 32 * 4)
        return model

    ppo, ppog = train(PPO), train(PPOG, policy_loss="clip")
    assert_same_parameters(ppo, ppog)
    masked = train(PPOG, policy_loss="ppog")
    differs = any(not th.equal(v, masked.policy.state_dict()[k]) for k, v in ppo.policy.state_dict().items())
    assert differs, "the masked-gradient loss trained the same parameters: the comparison above would be vacuous"
