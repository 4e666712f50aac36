"""MaskablePPOG: policy_loss="clip" is sb3-contrib's MaskablePPO bit for bit, with masks that really exclude actions;
MaskablePPO's API (ActionMasker, predict with masks, use_masking); it learns and never takes a masked action."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from family_helpers import assert_same_state, masked_identity, moved, vec
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from sb3_contrib.common.envs import InvalidActionEnvDiscrete, InvalidActionEnvMultiDiscrete
from sb3_contrib.common.maskable.evaluation import evaluate_policy
from sb3_contrib.common.maskable.utils import get_action_masks
from sb3_contrib.common.wrappers import ActionMasker
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.envs import IdentityEnv

from ppog_sb3 import MaskablePPOG

SETTINGS = dict(
    policy="MlpPolicy",
    n_steps=32,
    batch_size=24,  # 64 steps per rollout: two full minibatches and a truncated one
    n_epochs=3,
    learning_rate=1e-3,
    clip_range=0.15,
    ent_coef=0.01,
    gae_lambda=0.9,
    policy_kwargs=dict(net_arch=[32, 32]),
    seed=7,
    device="cpu",
)


class TakenActions(BaseCallback):
    """Counts the rollout steps, and those whose action the step's own mask forbids (MaskablePPO's loop's locals)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = self.masked = self.forbidden = 0

    def _on_step(self) -> bool:
        masks = np.asarray(self.locals["action_masks"], dtype=bool)
        actions = self.locals["actions"].reshape(len(masks), -1)
        offsets = np.concatenate([[0], np.cumsum(self.model.action_space.nvec)[:-1]]) if actions.shape[1] > 1 else [0]
        taken = masks[np.arange(len(masks))[:, None], actions + offsets]
        self.steps += len(masks)
        self.masked += int((~masks).sum())
        self.forbidden += int((~taken).sum())
        return True


ENVS = {
    "Discrete": lambda: InvalidActionEnvDiscrete(dim=8, ep_length=20, n_invalid_actions=5),
    "MultiDiscrete": lambda: InvalidActionEnvMultiDiscrete(dims=[3, 4], ep_length=20, n_invalid_actions=3),
}


@pytest.mark.parametrize(
    "env_name, extra",
    [
        ("Discrete", {}),
        ("MultiDiscrete", {}),
        ("Discrete", {"clip_range_vf": 0.2, "target_kl": 5e-5}),
        ("Discrete", {"normalize_advantage": False, "learning_rate": lambda p: 1e-3 * p}),
    ],
    ids=["Discrete", "MultiDiscrete", "vf-clip+target-kl", "no-norm+lr-schedule"],
)
def test_clip_reproduces_maskable_ppo(env_name, extra):
    """Four rollouts of 2 envs with masks that exclude most actions: torch.equal parameters and Adam state. Catches
    the masks left out of the update's evaluate call (other log-probabilities), and any change to the shared update
    that is not PPO's numbers (e.g. the advantage normalization over another set of samples)."""
    kwargs, env_fn = {**SETTINGS, **extra}, ENVS[env_name]
    parent = MaskablePPO(env=vec(env_fn, seed=3), **kwargs)
    taken = TakenActions()
    parent.learn(256, callback=taken)
    ours = MaskablePPOG(env=vec(env_fn, seed=3), policy_loss="clip", **kwargs)
    ours.learn(256)
    assert_same_state(parent, ours)
    assert moved(MaskablePPO(env=vec(env_fn, seed=3), **kwargs), ours) > 1e-3, "nothing trained: a vacuous comparison"
    assert taken.masked > taken.steps and taken.forbidden == 0  # the masks exclude actions, and the loop obeys them
    if "target_kl" in extra:
        assert ours._n_updates < 4 * kwargs["n_epochs"]  # early stopping happened


def test_the_update_evaluates_with_the_stored_masks():
    """The update's log-probabilities are those of the masked distribution: equal to the rollout's before any step."""
    model = MaskablePPOG(env=vec(masked_identity), **{**SETTINGS, "n_epochs": 1})
    _, callback = model._setup_learn(64)
    model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
    batch = next(model.rollout_buffer.get(None))
    actions = batch.actions.long().flatten()
    _, log_prob, _ = model._evaluate_minibatch(batch, actions)
    assert th.allclose(log_prob, batch.old_log_prob, atol=1e-6)
    _, unmasked, _ = model.policy.evaluate_actions(batch.observations, actions)
    assert not th.allclose(unmasked, batch.old_log_prob, atol=1e-3)


def test_maskable_api_action_masker_predict_and_evaluation():
    """An env without action_masks() through ActionMasker; predict with masks picks only valid actions; the maskable
    evaluate_policy runs; batch_size=None trains on the whole rollout as one minibatch, as in MaskablePPO."""

    def only_even(env) -> np.ndarray:
        return np.arange(env.action_space.n) % 2 == 0

    env = ActionMasker(IdentityEnv(6), only_even)
    model = MaskablePPOG("MlpPolicy", env, n_steps=32, batch_size=None, n_epochs=2, seed=0, device="cpu")
    model.learn(64)
    obs, _ = env.reset(seed=1)
    actions = [int(model.predict(obs, action_masks=only_even(env))[0]) for _ in range(20)]
    assert all(a % 2 == 0 for a in actions)
    mean, _ = evaluate_policy(model, env, n_eval_episodes=2, warn=False)
    assert np.isfinite(mean)
    assert get_action_masks(model.get_env()).shape == (1, 6)


def test_learning_without_masks_as_maskable_ppo():
    """learn(use_masking=False) on an env without masks, as MaskablePPO allows."""
    model = MaskablePPOG("MlpPolicy", IdentityEnv(4), n_steps=32, batch_size=32, seed=0, device="cpu")
    model.learn(64, use_masking=False)
    assert model._n_train_updates == 2
    with pytest.raises(ValueError, match="does not support action masking"):
        model.learn(32)


def test_nstep_is_gae_with_lambda_one():
    """advantage_estimator="nstep" computes the parent's GAE with lambda = 1 (gae_lambda unused)."""

    def one_rollout(model):  # built and run in turn: the model's seed sets the global generators the rollout uses
        _, callback = model._setup_learn(64)
        model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
        return model

    nstep = one_rollout(MaskablePPOG(env=vec(masked_identity), advantage_estimator="nstep", **SETTINGS))
    lambda_one = one_rollout(MaskablePPO(env=vec(masked_identity), **{**SETTINGS, "gae_lambda": 1.0}))
    gae = one_rollout(MaskablePPOG(env=vec(masked_identity), **SETTINGS))
    assert nstep.rollout_buffer.gae_lambda == 1.0 and nstep.gae_lambda == SETTINGS["gae_lambda"]
    np.testing.assert_array_equal(nstep.rollout_buffer.advantages, lambda_one.rollout_buffer.advantages)
    assert not np.array_equal(gae.rollout_buffer.advantages, nstep.rollout_buffer.advantages)


def test_box_actions_are_refused_naming_the_class():
    from stable_baselines3.common.envs import IdentityEnvBox

    with pytest.raises(
        ValueError,
        match=r"Unsupported action space Box.*only supports Discrete, MultiDiscrete, MultiBinary .*\(MaskablePPOG\)",
    ):
        MaskablePPOG("MlpPolicy", IdentityEnvBox())
    assert spaces.Box not in (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


def _learn(algo: type, seed: int) -> tuple[float, int, int]:
    """sb3-contrib's test_identity setting: 70 actions of which 55 masked per step, gamma 0.4, 8,000 steps."""
    th.set_num_threads(1)
    env = InvalidActionEnvDiscrete(dim=70, n_invalid_actions=55)
    model = algo("MlpPolicy", env, gamma=0.4, seed=seed, device="cpu")
    taken = TakenActions()
    model.learn(8000, callback=taken)
    mean, _ = evaluate_policy(model, InvalidActionEnvDiscrete(dim=70, n_invalid_actions=55), n_eval_episodes=20, warn=False)
    return float(mean), taken.forbidden, taken.steps


@pytest.mark.slow
def test_learns_the_masked_identity_as_maskable_ppo_does():
    """Both reach sb3-contrib's own threshold (90 of 100) from seed 0; MaskablePPOG never takes a masked action.
    Seeds 0-2 of both, with wall times: ``python benchmarks/family_learning.py mask --seeds 0 1 2``."""
    ours, forbidden, steps = _learn(MaskablePPOG, 0)
    parent, _, _ = _learn(MaskablePPO, 0)
    assert steps >= 8000 and forbidden == 0
    assert parent >= 90 and ours >= 90, (ours, parent)
