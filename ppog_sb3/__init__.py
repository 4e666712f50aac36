"""ppog_sb3: PPOG ("PPO, Gilad's version") for Stable-Baselines3.

Importing the package registers its gymnasium environment ids (``ppog/SpaceInvaders-v5`` and every ALE game as
``ppog/<Game>-v5``), with a single-env ``entry_point`` and a fast vectorized ``vector_entry_point``, and the
MinAtar games as ``MinAtar/<Game>-v1`` (the ``minatar`` package is the ``[study]`` extra).
"""

from ppog_sb3.envs import make_atari_vec_env, register_envs, register_minatar_envs
from ppog_sb3.ppog import PPOG, CnnPolicy, MlpPolicy, MultiInputPolicy, NonFiniteError
from ppog_sb3.ppog_mask import MaskablePPOG
from ppog_sb3.ppog_recurrent import RecurrentPPOG

__version__ = "0.1.0"

register_envs()
register_minatar_envs()

__all__ = [
    "PPOG",
    "MaskablePPOG",
    "RecurrentPPOG",
    "CnnPolicy",
    "MlpPolicy",
    "MultiInputPolicy",
    "NonFiniteError",
    "make_atari_vec_env",
    "register_envs",
    "__version__",
]
