"""The rewrite that runs SB3's own PPO tests on PPOG (run_ppo_tests.py), on a sample of SB3's test code."""

from __future__ import annotations

import pytest
from sb3_upstream.run_ppo_tests import CONFTEST, EXPECTED_FAILURES, rename_ppo

SAMPLE = '''\
from stable_baselines3 import A2C, PPO, SAC
from stable_baselines3 import PPO
MODEL_LIST = [PPO, A2C]


def test_x():
    """PPO stays PPO in text."""
    from stable_baselines3 import A2C, DQN, PPO  # noqa: F401

    model = PPO("MlpPolicy", "CartPole-v1")  # a PPO comment
    assert "PPO_1" and model.__class__ is not PPO_like
'''


def test_rename_ppo_rewrites_names_and_imports_only():
    """Names become PPOG, imported from ppog_sb3 (indentation and comments kept); strings and comments stay SB3's.
    Catches a textual replace (it would rewrite SB3's expected messages) and a missed import."""
    out = rename_ppo(SAMPLE)
    assert "from stable_baselines3 import A2C, SAC\nfrom ppog_sb3 import PPOG\n" in out
    assert "\nfrom ppog_sb3 import PPOG\nMODEL_LIST = [PPOG, A2C]" in out
    assert "    from stable_baselines3 import A2C, DQN  # noqa: F401\n    from ppog_sb3 import PPOG  # noqa: F401\n" in out
    assert 'model = PPOG("MlpPolicy", "CartPole-v1")  # a PPO comment' in out
    assert '"""PPO stays PPO in text."""' in out and '"PPO_1"' in out and "PPO_like" in out
    compile(out, "sample", "exec")


def test_rename_ppo_refuses_an_import_it_cannot_rewrite():
    with pytest.raises(RuntimeError, match="was not rewritten"):
        rename_ppo("from stable_baselines3 import (\n    PPO,\n)\n")


def test_the_conftest_is_valid_python_naming_the_expected_failures():
    source = CONFTEST.format(expected=EXPECTED_FAILURES)
    compile(source, "conftest.py", "exec")
    assert all(nodeid.startswith("tests/test_") for nodeid in EXPECTED_FAILURES)
