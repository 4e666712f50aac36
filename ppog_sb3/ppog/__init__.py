from ppog_sb3.ppog.policies import CnnPolicy, MlpPolicy, MultiInputPolicy
from ppog_sb3.ppog.ppog import PPOG, NonFiniteError

__all__ = ["PPOG", "CnnPolicy", "MlpPolicy", "MultiInputPolicy", "NonFiniteError"]
