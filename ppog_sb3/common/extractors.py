"""Features extractors for observation kinds SB3's own do not cover."""

from __future__ import annotations

import gymnasium as gym
import torch as th
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


class MinAtarCNN(BaseFeaturesExtractor):
    """The MinAtar paper's network body (Young & Tian 2019): one 3x3 convolution with 16 channels (stride 1, no
    padding: 10x10 -> 8x8), ReLU, then a fully connected layer of ``features_dim`` (128) units, ReLU.

    Input: MinAtar's channels-last boards, ``(batch, 10, 10, C)`` (boolean in the env, 0/1 floats after SB3's
    preprocessing, which does not rescale them: a boolean ``Box`` is not an image space). Both SB3 policies take it
    through ``policy_kwargs``; the actor and critic heads SB3 adds on top are linear, as the paper's.

    ``PPO("MlpPolicy", env, policy_kwargs=dict(features_extractor_class=MinAtarCNN))`` (any policy name: the extractor
    is the whole body; ``net_arch=[]`` keeps the heads directly on its 128 units, as in the paper).
    """

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 128, channels: int = 16) -> None:
        shape = observation_space.shape
        if shape is None or len(shape) != 3:
            raise ValueError(f"observation_space must be (height, width, channels) boards, got shape {shape}")
        if features_dim < 1 or channels < 1:
            raise ValueError(f"features_dim={features_dim} and channels={channels} must be >= 1")
        super().__init__(observation_space, features_dim)
        height, width, in_channels = shape
        if height < 3 or width < 3:
            raise ValueError(f"observation_space boards must be at least 3x3 for the 3x3 convolution, got {shape}")
        self.conv = nn.Sequential(nn.Conv2d(in_channels, channels, kernel_size=3, stride=1), nn.ReLU(), nn.Flatten())
        self.linear = nn.Sequential(nn.Linear(channels * (height - 2) * (width - 2), features_dim), nn.ReLU())

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return self.linear(self.conv(observations.float().permute(0, 3, 1, 2)))
