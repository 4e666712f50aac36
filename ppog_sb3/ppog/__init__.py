from ppog_sb3.common.finite import NonFiniteError
from ppog_sb3.ppog.policies import CnnPolicy, MlpPolicy, MultiInputPolicy
from ppog_sb3.ppog.ppog import PPOG

__all__ = ["PPOG", "CnnPolicy", "MlpPolicy", "MultiInputPolicy", "NonFiniteError"]
