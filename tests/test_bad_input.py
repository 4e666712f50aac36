"""Bad constructor input: a ValueError at construction naming the argument, the value and what is allowed."""

import pytest

from ppog_sb3 import PPOG

TINY = dict(n_steps=16, batch_size=16, device="cpu")


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(policy_loss="ppo"), r"policy_loss='ppo'.*'ppog', 'clip'"),
        (dict(advantage_estimator="td"), r"advantage_estimator='td'.*'gae', 'nstep'"),
        (dict(precision="fp16"), r"precision='fp16'.*'fp32', 'bf16', 'auto'"),
        (dict(ent_coef=0.1, ent_coef_decay=0.0), r"ent_coef_decay=0.0 must be in \(0, 1\]"),
        (dict(ent_coef=0.1, ent_coef_decay=1.5), r"ent_coef_decay=1.5 must be in \(0, 1\]"),
        (dict(ent_coef=0.1, ent_coef_min=-0.01), r"ent_coef_min=-0.01 must be in \[0, initial ent_coef=0.1\]"),
        (dict(ent_coef=0.1, ent_coef_min=0.2), r"ent_coef_min=0.2 must be in \[0, initial ent_coef=0.1\]"),
        (dict(ent_coef="lots"), r"ent_coef='lots'.*'lin_0.01'"),
        (dict(clip_range=0.0), r"clip_range=0.0 must be > 0"),
        (dict(clip_range=-0.2), r"clip_range=-0.2 must be > 0"),
        (dict(batch_size=1), r"batch_size=1 must be >= 2 with normalize_advantage=True"),
        (dict(vf_learning_rate=-1e-3), r"vf_learning_rate=-0.001 must be > 0"),
        (dict(vf_learning_rate="fast"), r"vf_learning_rate='fast'"),
        (dict(clip_range_vf=-1.0), r"clip_range_vf=-1.0 must be > 0"),
        (dict(n_epochs=0), r"n_epochs=0 must be an integer >= 1"),
    ],
)
def test_bad_arguments_raise_at_construction(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        PPOG("MlpPolicy", "CartPole-v1", **{**TINY, **kwargs})


def test_batch_size_one_is_fine_without_normalization():
    PPOG("MlpPolicy", "CartPole-v1", n_steps=4, batch_size=1, normalize_advantage=False, device="cpu")


def test_nstep_needs_ppog_buffer():
    from stable_baselines3.common.buffers import RolloutBuffer

    PPOG("MlpPolicy", "CartPole-v1", advantage_estimator="nstep", **TINY)  # PPOG's own buffer: fine
    with pytest.raises(ValueError, match="advantage_estimator='nstep' needs PPOG's rollout buffer.*RolloutBuffer"):
        PPOG("MlpPolicy", "CartPole-v1", advantage_estimator="nstep", rollout_buffer_class=RolloutBuffer, **TINY)
