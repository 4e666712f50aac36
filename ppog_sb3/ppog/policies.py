"""The policy names PPOG accepts: SB3's actor-critic policies, as for PPO; ``CnnPolicy`` feeds bf16 images directly.

``CnnPolicy`` is SB3's ``ActorCriticCnnPolicy`` with one difference, under bf16 autocast only (PPOG's
``precision="bf16"``, or ``"auto"`` where bf16 is native): uint8 images go to the network as ``bf16(obs) / 255``
instead of SB3's ``float32(obs) / 255``, which autocast then casts to bf16 for the first convolution anyway. That
skips writing and reading a float32 copy of every minibatch (29 MB for 256 Atari stacks): measured 5.5 ms -> 1.2 ms
per 256-frame minibatch on a 2-core AVX512-BF16 CPU, about a fifth of its bf16 forward+backward. In float32 (no
autocast) it computes exactly what SB3's policy computes, so ``policy_loss="clip"`` still reproduces PPO bit for bit.
"""

from __future__ import annotations

import torch as th
from stable_baselines3.common.policies import (
    ActorCriticCnnPolicy,
    ActorCriticPolicy,
    BasePolicy,
    MultiInputActorCriticPolicy,
)
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import PyTorchObs


def _bf16_autocast(device_type: str) -> bool:
    return th.is_autocast_enabled(device_type) and th.get_autocast_dtype(device_type) == th.bfloat16


class Bf16ImageInput(BasePolicy):
    """Images straight to bf16 under bf16 autocast (module docstring); SB3's preprocessing otherwise."""

    def extract_features(self, obs: PyTorchObs, features_extractor: BaseFeaturesExtractor) -> th.Tensor:
        if (  # the autocast check first: it is the cheap one, and false in fp32 (is_image_space costs ~5 us a call)
            isinstance(obs, th.Tensor)
            and _bf16_autocast(obs.device.type)
            and obs.dtype == th.uint8
            and self.normalize_images
            and is_image_space(self.observation_space)
        ):
            return features_extractor(obs.to(th.bfloat16) / 255.0)
        return super().extract_features(obs, features_extractor)


class CnnPolicy(ActorCriticCnnPolicy, Bf16ImageInput):  # type: ignore[misc]  # SB3 overrides extract_features with another signature
    """SB3's ``ActorCriticCnnPolicy`` (its ``extract_features`` calls :class:`Bf16ImageInput`'s, module docstring)."""


MlpPolicy = ActorCriticPolicy
MultiInputPolicy = MultiInputActorCriticPolicy

__all__ = ["Bf16ImageInput", "CnnPolicy", "MlpPolicy", "MultiInputPolicy"]
