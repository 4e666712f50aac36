"""The PPOG family (PPOG, MaskablePPOG, RecurrentPPOG): one update step, and PPOG's behaviour in each class.

Each test runs for the three classes on tiny models (tests/family_helpers.py); the class-specific exactness against
sb3-contrib's parents is in tests/test_maskable.py and tests/test_recurrent.py.
"""

from __future__ import annotations

import inspect
import random

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from family_helpers import FAMILY, TINY, assert_same_state, moved, tiny, vec
from sb3_contrib import MaskablePPO, RecurrentPPO
from stable_baselines3 import PPO

from ppog_sb3 import PPOG, MaskablePPOG, NonFiniteError, RecurrentPPOG
from ppog_sb3.ppog.arguments import InvalidArgumentError
from ppog_sb3.ppog.update import PPOGUpdate

CLASSES = list(FAMILY)
PARENTS = {PPOG: PPO, MaskablePPOG: MaskablePPO, RecurrentPPOG: RecurrentPPO}
PPOG_ARGUMENTS = ("policy_loss", "ent_coef_decay", "ent_coef_min", "vf_learning_rate", "advantage_estimator")
ids = pytest.mark.parametrize("cls", CLASSES, ids=[c.__name__ for c in CLASSES])

#: the methods of PPOGUpdate a class may override: where its parent's train() differs from PPO's (module docstring of
#: ppog_sb3/ppog/update.py), and RecurrentPPOG's critic layers in the critic's optimizer group
HOOKS = {"_evaluate_minibatch", "_valid_steps", "_value_loss", "_build_optimizer"}


@ids
def test_one_update_step_for_the_whole_family(cls):
    """train(), the minibatch loss and the decay live once, in PPOGUpdate; a class overrides only the hooks. Catches a
    class that gets its own copy of train() (or of any other part of the update)."""
    assert cls.train is PPOGUpdate.train and cls._minibatch_loss is PPOGUpdate._minibatch_loss
    own = {name for name in vars(PPOGUpdate) if callable(getattr(PPOGUpdate, name)) and name in vars(cls)}
    assert own <= HOOKS, own - HOOKS


@ids
def test_every_parent_argument_with_the_same_name_default_and_position(cls):
    """The parent's constructor arguments, in its order and with its defaults, then PPOG's own with PPOG's defaults.
    Catches a dropped, renamed, reordered or re-defaulted argument (a positional call would shift)."""
    parent = list(inspect.signature(PARENTS[cls].__init__).parameters.values())
    ours = inspect.signature(cls.__init__).parameters
    names = [p.name for p in parent if p.name != "_init_setup_model"]
    assert list(ours)[: len(names)] == names
    for p in parent:
        assert ours[p.name].default == p.default, p.name
    for name in PPOG_ARGUMENTS:
        assert ours[name].default == inspect.signature(PPOG.__init__).parameters[name].default, name
    learn, parent_learn = inspect.signature(cls.learn).parameters, inspect.signature(PARENTS[cls].learn).parameters
    assert list(learn) == list(parent_learn)
    assert learn["tb_log_name"].default == cls.__name__


@ids
def test_the_default_loss_is_not_the_parents(cls):
    """policy_loss="ppog" (default) trains other parameters than "clip" (the parent's loss) from the same seed."""
    ppog, clip = tiny(cls), tiny(cls, policy_loss="clip")
    ppog.learn(64), clip.learn(64)
    assert moved(ppog, clip) > 1e-5


@ids
def test_decay_state_is_saved_and_continued(cls, tmp_path):
    """Train 2N == train N, save, load on the same env object, train N: parameters, Adam state, decayed coefficient.
    Catches a decay counter that is not saved (the coefficient restarts), and for RecurrentPPOG LSTM states dropped
    at save (RecurrentPPO's own behaviour: the resumed rollout starts from zero states)."""
    kwargs = dict(ent_coef=0.1, ent_coef_decay=0.8, ent_coef_min=0.01, vf_learning_rate=5e-4)
    env_fn = FAMILY[cls][0]
    reference = tiny(cls, vec(env_fn, seed=11), **kwargs)
    reference.learn(64)
    reference.learn(64, reset_num_timesteps=False)

    env = vec(env_fn, seed=11)
    first = tiny(cls, env, **kwargs)
    first.learn(64)
    first.save(tmp_path / "half")
    del first
    th.manual_seed(12345), np.random.seed(12345)  # whatever happens in between must not matter
    resumed = cls.load(tmp_path / "half", env=env, force_reset=False)
    resumed.learn(64, reset_num_timesteps=False)
    assert resumed._n_train_updates == reference._n_train_updates == 4
    assert resumed.current_ent_coef == reference.current_ent_coef == pytest.approx(max(0.01, 0.1 * 0.8**4))
    assert_same_state(reference, resumed)


@ids
def test_load_leaves_the_process_random_streams_alone(cls, tmp_path):
    """SB3's load reseeds python, numpy and torch with the model's seed; the family's load does not."""
    model = tiny(cls)
    model.learn(32)
    model.save(tmp_path / "model")

    def draws():
        return random.random(), float(np.random.rand()), float(th.rand(1))

    random.seed(42), np.random.seed(42), th.manual_seed(42)
    expected = draws()
    random.seed(42), np.random.seed(42), th.manual_seed(42)
    cls.load(tmp_path / "model")
    assert draws() == expected


@ids
def test_live_changes_take_effect_at_the_next_update(cls):
    """ent_coef, vf_learning_rate and clip_range set on a live model: used (and logged) from the next update on."""
    model = tiny(cls, ent_coef=0.1, ent_coef_decay=0.5)
    model.learn(32)
    model.ent_coef, model.vf_learning_rate, model.clip_range = 0.3, 2e-3, 0.05
    model.learn(16, reset_num_timesteps=False)
    assert model.current_ent_coef == pytest.approx(0.3 * 0.5)  # a new ent_coef restarts the decay from itself
    assert {g["name"]: g["lr"] for g in model.policy.optimizer.param_groups}["critic"] == 2e-3
    assert model.clip_range(1.0) == 0.05
    model.ent_coef_decay = 2.0
    with pytest.raises(InvalidArgumentError, match=r"ent_coef_decay=2.0 must be in \(0, 1\]"):
        model.learn(16, reset_num_timesteps=False)


@ids
@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(policy_loss="ppo"), r"policy_loss='ppo'.*'ppog', 'clip'"),
        (dict(advantage_estimator="td"), r"advantage_estimator='td'.*'gae', 'nstep'"),
        (dict(ent_coef=0.1, ent_coef_min=0.2), r"ent_coef_min=0.2 must be in \[0, initial ent_coef=0.1\]"),
        (dict(vf_learning_rate=-1e-3), r"vf_learning_rate=-0.001 must be > 0"),
        (dict(clip_range_vf=-1.0), r"clip_range_vf=-1.0 must be > 0"),
        (dict(batch_size=1), r"batch_size=1 must be >= 2 with normalize_advantage=True"),
        (dict(n_epochs=0), r"n_epochs=0 must be an integer >= 1"),
    ],
)
def test_bad_arguments_name_themselves(cls, kwargs, pattern):
    with pytest.raises(InvalidArgumentError, match=pattern):
        tiny(cls, **kwargs)


@ids
def test_unsupported_action_space_names_the_class(cls):
    with pytest.raises(
        InvalidArgumentError, match=rf"Unsupported action space.*The algorithm only supports.*\({cls.__name__}\)"
    ):
        cls(FAMILY[cls][1]["policy"], TupleActions())


class TupleActions(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,))
    action_space = gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Discrete(2)))


class NaNRewards(gym.Wrapper):
    """The wrapped env's rewards, NaN after ``nan_after`` steps."""

    def __init__(self, env: gym.Env, nan_after: int):
        super().__init__(env)
        self.nan_after, self.steps = nan_after, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        return obs, (float("nan") if self.steps > self.nan_after else reward), terminated, truncated, info


@ids
def test_non_finite_rewards_stop_before_the_update(cls):
    """NonFiniteError naming the class, the update and the quantity; the weights stay those of the last good step."""
    env_fn = FAMILY[cls][0]
    model = tiny(cls, vec(lambda: NaNRewards(env_fn(), nan_after=40), n_envs=1))
    model.learn(32)  # two clean updates
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    with pytest.raises(NonFiniteError, match=rf"{cls.__name__} update 3 .*non-finite rewards"):
        model.learn(32, reset_num_timesteps=False)
    for key, value in model.policy.state_dict().items():
        assert th.equal(value, before[key]), key


@ids
def test_parent_weights_move_in(cls):
    """set_parameters from the parent (one Adam group) fills PPOG's actor and critic groups, parameter by parameter."""
    env_fn, defaults = FAMILY[cls]
    parent = PARENTS[cls](env=vec(env_fn), **{**defaults, **TINY})
    parent.learn(32)
    model = tiny(cls)
    model.set_parameters(parent.get_parameters())
    assert [g["name"] for g in model.policy.optimizer.param_groups] == ["actor", "critic"]
    for param_a, param_b in zip(parent.policy.parameters(), model.policy.parameters(), strict=True):
        assert th.equal(param_a, param_b)
        state_a, state_b = parent.policy.optimizer.state[param_a], model.policy.optimizer.state[param_b]
        assert state_a and all(th.equal(th.as_tensor(state_a[k]), th.as_tensor(state_b[k])) for k in state_a)


def test_the_family_duplicates_fewer_lines_than_sb3_contrib():
    """Issue 24: one seam. The four files of the family (ppog.py, update.py, ppog_mask.py, ppog_recurrent.py) share
    fewer lines, over all their pairs, than sb3-contrib's ppo_mask.py and ppo_recurrent.py share with each other, and
    none outside the constructors (whose signatures the drop-in tests require). Measured by
    benchmarks/family_duplication.py (runs of >= 6 identical code lines). Catches a copy of train(), of the loss or of
    any other logic block into a family class (seen red with PPOGUpdate.train pasted into ppog_mask.py)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "family_duplication.py"
    spec = importlib.util.spec_from_file_location("family_duplication", path)
    assert spec is not None and spec.loader is not None
    measure = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(measure)

    theirs = measure.shared(*measure.contrib_files())
    ours = measure.family(measure.OURS)
    assert theirs["all"] > 0  # the measure sees sb3-contrib's copies (a broken measure would pass with 0 vs 0)
    assert ours["all"] < theirs["all"], (ours, theirs)
    assert ours["outside __init__"] == 0, ours
