"""ppog_sb3: PPOG ("PPO, Gilad's version") for Stable-Baselines3.

Importing the package registers its gymnasium environment ids (``ppog/...``).
"""

from ppog_sb3.ppog import PPOG, CnnPolicy, MlpPolicy, MultiInputPolicy, NonFiniteError

__version__ = "0.1.0"

__all__ = ["PPOG", "CnnPolicy", "MlpPolicy", "MultiInputPolicy", "NonFiniteError", "__version__"]
