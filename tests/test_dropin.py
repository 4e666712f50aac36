"""What code and habits written for SB3's PPO expect, checked on PPOG (issue 12), each against PPO where PPO can say."""

from __future__ import annotations

import random

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from helpers import assert_same_parameters
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import VecEnvWrapper

from ppog_sb3 import PPOG, NonFiniteError
from ppog_sb3.common.precision import bf16_is_native, has_native_bf16

TINY = dict(n_steps=16, batch_size=16, n_epochs=2, policy_kwargs=dict(net_arch=[16]), seed=3, device="cpu")


def _cartpole(n_envs: int = 2, seed: int = 0):
    return make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed)


class RecordingLogger(Logger):
    """SB3's logger that also keeps every value recorded, per key, in order."""

    def __init__(self) -> None:
        super().__init__(folder=None, output_formats=[])
        self.history: dict[str, list] = {}

    def record(self, key, value, exclude=None) -> None:
        self.history.setdefault(key, []).append(value)
        super().record(key, value, exclude)


def _recorded(model, total: int, callback=None) -> dict[str, list]:
    """Train ``model`` for ``total`` steps; every value its logger recorded, per key."""
    logger = RecordingLogger()
    model.set_logger(logger)
    model.learn(total, callback=callback)
    return logger.history


# 1. load leaves the process's random state alone; resume still restores it (exactness: test_reliability.py)
def _draws() -> tuple:
    return random.random(), float(np.random.rand()), float(th.rand(1))


def test_load_does_not_reseed_the_process(tmp_path):
    model = PPOG("MlpPolicy", _cartpole(), **TINY)
    model.learn(32)
    model.save(tmp_path / "model")
    random.seed(42), np.random.seed(42), th.manual_seed(42)
    expected = _draws()
    random.seed(42), np.random.seed(42), th.manual_seed(42)
    PPOG.load(tmp_path / "model")
    assert _draws() == expected


def test_load_leaves_cudnn_flags_and_cuda_generators_alone(tmp_path, monkeypatch):
    """On a CUDA device SB3's load reseeds the process with ``set_random_seed(seed, using_cuda=True)``: cuDNN
    ``deterministic`` on, ``benchmark`` off, every CUDA generator reseeded (queued until CUDA starts). The CUDA device
    is injected: SB3's seeding function runs as on one and records its calls; PPO's load is the reference (it must
    flip the flags, or the injection is dead). PPOG's load seeds only the model's action space and env, exactly as
    SB3's does (same env reset, same action samples as PPO's loaded model). Catches the load guard removed from
    ``ExactResumeMixin.set_random_seed`` (the cuDNN flags flip), and a guard that skips the env or action space."""
    import stable_baselines3.common.base_class as base_class
    from stable_baselines3.common import utils

    seeded = []

    def as_on_cuda(seed, using_cuda=False):  # SB3's set_random_seed, as it runs for a model on a CUDA device
        seeded.append(seed)
        utils.set_random_seed(seed, using_cuda=True)

    for algo in (PPO, PPOG):
        model = algo("MlpPolicy", _cartpole(), **TINY)
        for _ in range(3):
            model.action_space.sample()  # the saved state is not the seeded one: a skipped seeding shows
        model.save(tmp_path / algo.__name__)
    monkeypatch.setattr(base_class, "set_random_seed", as_on_cuda)
    monkeypatch.setattr(th.backends.cudnn, "deterministic", False)
    monkeypatch.setattr(th.backends.cudnn, "benchmark", True)

    ppog_env, ppo_env = _cartpole(seed=9), _cartpole(seed=9)
    ppog = PPOG.load(tmp_path / "PPOG", env=ppog_env)
    assert seeded == [] and (th.backends.cudnn.deterministic, th.backends.cudnn.benchmark) == (False, True)
    ppo = PPO.load(tmp_path / "PPO", env=ppo_env)
    assert seeded == [TINY["seed"]] and (th.backends.cudnn.deterministic, th.backends.cudnn.benchmark) == (True, False)
    np.testing.assert_array_equal(ppog_env.reset(), ppo_env.reset())  # both envs seeded with the model's seed
    assert [ppog.action_space.sample() for _ in range(5)] == [ppo.action_space.sample() for _ in range(5)]


def _seeded_draws(seed: int) -> tuple:
    random.seed(seed), np.random.seed(seed), th.manual_seed(seed)
    return _draws()


def test_resume_restores_the_saved_streams_but_a_new_run_or_seed_does_not(tmp_path):
    model = PPOG("MlpPolicy", _cartpole(), **TINY)
    model.learn(32)
    model.save(tmp_path / "model")
    saved = _draws_after_restore(tmp_path / "model", reset_num_timesteps=False)
    assert saved == _draws_after_restore(tmp_path / "model", reset_num_timesteps=False)  # the file's streams
    assert saved != _seeded_draws(7)
    assert _draws_after_restore(tmp_path / "model", reset_num_timesteps=True) == _seeded_draws(7)  # the process's own
    assert _draws_after_restore(tmp_path / "model", reset_num_timesteps=False, seed=5) == _seeded_draws(5)


def _draws_after_restore(path, reset_num_timesteps: bool, seed: int | None = None) -> tuple:
    random.seed(7), np.random.seed(7), th.manual_seed(7)
    model = PPOG.load(path, env=_cartpole(), force_reset=False)
    if seed is not None:
        model.set_random_seed(seed)  # an explicit seed wins over the file's streams
    model._setup_learn(16, reset_num_timesteps=reset_num_timesteps)  # what learn() does first
    return _draws()


def test_a_file_that_is_not_a_zip_raises_ppos_error(tmp_path):
    """SB3's words for it, "wasn't a zip-file" (its test_load_bad_zip matches them), plus PPOG's hint. Catches the
    model-file check's message without them."""
    (tmp_path / "model.zip").write_text("this is not a zip file")
    for algo in (PPO, PPOG):
        with pytest.raises(ValueError, match="wasn't a zip-file"):
            algo.load(tmp_path / "model.zip")


class NoInfosUnlessDone(VecEnvWrapper):
    """A VecEnv that returns an empty ``infos`` list on steps where no episode ends (SB3's DictObsVecEnv test env)."""

    def reset(self):
        return self.venv.reset()

    truncations = 0

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self.truncations += sum(info.get("TimeLimit.truncated", False) for info in infos)
        return obs, rewards, dones, infos if dones.any() else []


def test_a_vec_env_without_infos_on_quiet_steps_trains_as_with_ppo():
    """SB3 reads ``infos[i]`` only for an env that is done; so must PPOG's rollout loop (SB3's test_vec_with_ppo:
    IndexError). Same parameters as PPO's after training, with truncations (bootstrapped from the infos). Catches
    ``infos[idx]`` read for every env in ``ExactResumeMixin.collect_rollouts``."""

    def env():
        return NoInfosUnlessDone(make_vec_env(lambda: gym.make("CartPole-v1", max_episode_steps=20), n_envs=2, seed=1))

    ppo = PPO("MlpPolicy", env(), **TINY).learn(64)
    ppog = PPOG("MlpPolicy", env(), policy_loss="clip", **TINY).learn(64)
    assert_same_parameters(ppo, ppog)
    assert ppog.env.truncations > 0


# 2. PPO weights (policy and Adam state) into PPOG, by the recipe the error message gives
def test_ppo_parameters_move_into_ppog(tmp_path):
    kwargs = dict(TINY, n_epochs=3)
    ppo = PPO("MlpPolicy", _cartpole(), **kwargs)
    ppo.learn(64)
    ppo.save(tmp_path / "ppo")
    with pytest.raises(ValueError, match=r"model.set_parameters\(path\)"):
        PPOG.load(tmp_path / "ppo")

    for source in (ppo.get_parameters(), str(tmp_path / "ppo.zip")):
        ppog = PPOG("MlpPolicy", _cartpole(), vf_learning_rate=1e-4, **kwargs)
        ppog.set_parameters(source)
        assert_same_parameters(ppo, ppog)
        for ppo_param, ppog_param in zip(ppo.policy.parameters(), ppog.policy.parameters()):
            ppo_state, ppog_state = ppo.policy.optimizer.state[ppo_param], ppog.policy.optimizer.state[ppog_param]
            assert ppo_state.keys() == ppog_state.keys() and ppo_state
            for name in ppo_state:
                assert th.equal(ppo_state[name], ppog_state[name]), name
        assert [g["name"] for g in ppog.policy.optimizer.param_groups] == ["actor", "critic"]
        assert ppog.policy.optimizer.param_groups[1]["lr"] == 1e-4  # PPOG's own group settings stay
        ppog.learn(32)  # and it trains from there


def test_mismatched_architecture_is_refused():
    ppo = PPO("MlpPolicy", _cartpole(), **dict(TINY, policy_kwargs=dict(net_arch=[8, 8])))
    ppo.learn(32)
    ppog = PPOG("MlpPolicy", _cartpole(), **TINY)
    with pytest.raises((ValueError, RuntimeError)):
        ppog.set_parameters(ppo.get_parameters())


def _drop_last_entry(params: dict) -> dict:
    """SB3's test_save_load malformation: every state dict without its last entry (the optimizer: no param_groups)."""
    return {name: dict(list(state.items())[:-1]) for name, state in params.items()}


MALFORMED = {
    "each state without its last entry": _drop_last_entry,
    "optimizer without param_groups": lambda p: {**p, "policy.optimizer": {"state": p["policy.optimizer"]["state"]}},
    "optimizer without state": lambda p: {**p, "policy.optimizer": {"param_groups": p["policy.optimizer"]["param_groups"]}},
    "optimizer not a dict": lambda p: {**p, "policy.optimizer": "not a state"},
    "optimizer with no groups": lambda p: {**p, "policy.optimizer": {"state": {}, "param_groups": []}},
    "policy without its last tensor": lambda p: {**p, "policy": dict(list(p["policy"].items())[:-1])},
    "an unknown object": lambda p: {**p, "not_an_object": {}},
    "no optimizer": lambda p: {"policy": p["policy"]},
}


def _error_type(model, params: dict) -> type[BaseException] | None:
    try:
        model.set_parameters(params, exact_match=True)
    except Exception as error:
        return type(error)
    return None


@pytest.mark.parametrize("malform", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_parameters_fail_as_for_ppo(malform):
    """A malformed ``set_parameters`` dict raises what PPO raises, for PPOG's own parameters and for PPO's (the
    one-group state PPOG maps); a subclass of PPO's error type where PPOG's message is clearer. Catches the PPO-to-PPOG
    mapping reading ``param_groups`` before SB3 looks at the dict (SB3's test_save_load got ``KeyError`` for
    ``RuntimeError``)."""
    ppo, ppog = PPO("MlpPolicy", _cartpole(), **TINY), PPOG("MlpPolicy", _cartpole(), **TINY)
    ppo.learn(32), ppog.learn(32)
    expected = _error_type(PPO("MlpPolicy", _cartpole(), **TINY), malform(ppo.get_parameters()))
    assert expected is not None
    for source in (ppog.get_parameters(), ppo.get_parameters()):
        got = _error_type(PPOG("MlpPolicy", _cartpole(), **TINY), malform(source))
        assert got is not None and issubclass(got, expected), (got, expected)


def test_a_ppo_state_of_another_architecture_fails_as_for_ppo():
    """The policy does not fit: torch's RuntimeError, as PPO's; only the optimizer does not fit: a ValueError (torch's
    for PPO, the mapping's clearer one for PPOG). Catches the mapping's ValueError raised before SB3 loads the policy."""
    small = PPO("MlpPolicy", _cartpole(), **dict(TINY, policy_kwargs=dict(net_arch=[8, 8])))
    small.learn(32)
    for algo in (PPO, PPOG):
        with pytest.raises(RuntimeError, match="size mismatch"):
            algo("MlpPolicy", _cartpole(), **TINY).set_parameters(small.get_parameters())
    ppo = PPO("MlpPolicy", _cartpole(), **TINY)
    ppo.learn(32)
    grafted = {**ppo.get_parameters(), "policy.optimizer": small.get_parameters()["policy.optimizer"]}
    with pytest.raises(ValueError):
        PPO("MlpPolicy", _cartpole(), **TINY).set_parameters(grafted)
    with pytest.raises(ValueError, match="the architectures differ"):
        PPOG("MlpPolicy", _cartpole(), **TINY).set_parameters(grafted)


# 3. error types: where PPO raises AssertionError, PPOG's error is one too (and still a ValueError with a message)
@pytest.mark.parametrize(
    "env_fn, kwargs, pattern",
    [
        (lambda: _cartpole(), dict(clip_range_vf=-0.1), "clip_range_vf"),
        (lambda: _cartpole(n_envs=1), dict(n_steps=1, batch_size=2), r"n_steps \* n_envs"),
        (lambda: _cartpole(), dict(batch_size=1), "batch_size"),
    ],
    ids=["clip_range_vf<0", "n_steps*n_envs==1", "batch_size==1"],
)
def test_bad_arguments_are_assertion_errors_where_ppo_asserts(env_fn, kwargs, pattern):
    with pytest.raises(AssertionError):
        PPO("MlpPolicy", env_fn(), **kwargs)
    with pytest.raises(AssertionError, match=pattern) as caught:
        PPOG("MlpPolicy", env_fn(), **kwargs)
    assert isinstance(caught.value, ValueError)


def test_unsupported_action_space_is_an_assertion_error_as_in_ppo():
    import gymnasium as gym

    class TextActions(gym.Env):
        observation_space = spaces.Box(-1, 1, (2,))
        action_space = spaces.Text(4)

    with pytest.raises(AssertionError):
        PPO("MlpPolicy", make_vec_env(TextActions, n_envs=1))
    with pytest.raises(AssertionError, match="Unsupported action space"):
        PPOG("MlpPolicy", make_vec_env(TextActions, n_envs=1))


# 4. numpy integers, as configs and Optuna produce them
def test_numpy_integers_are_accepted():
    kwargs = dict(n_steps=np.int64(16), batch_size=np.int32(16), n_epochs=np.int64(2), device="cpu", seed=0)
    PPO("MlpPolicy", _cartpole(), **kwargs).learn(32)  # the reference accepts them
    model = PPOG("MlpPolicy", _cartpole(), ent_coef_decay=np.float32(0.5), ent_coef=0.1, **kwargs)
    model.learn(32)
    assert (model.n_steps, model.batch_size, model.n_epochs) == (16, 16, 2)
    assert type(model.n_steps) is int
    with pytest.raises(ValueError, match="n_steps"):
        PPOG("MlpPolicy", _cartpole(), n_steps=16.0)
    with pytest.raises(ValueError, match="n_epochs"):
        PPOG("MlpPolicy", _cartpole(), n_epochs=True)


# 5. attributes changed on a live model take effect at the next update, and are saved
class SetAtUpdate(BaseCallback):
    """Sets attributes on the model when rollout number ``at`` starts (SB3's documented way: from a callback)."""

    def __init__(self, at: int, **values):
        super().__init__()
        self.at, self.values, self.rollouts = at, values, 0

    def _on_rollout_start(self) -> None:
        self.rollouts += 1
        if self.rollouts == self.at:
            for name, value in self.values.items():
                setattr(self.model, name, value)

    def _on_step(self) -> bool:
        return True


def test_live_ent_coef_learning_rates_and_clip_range():
    model = PPOG("MlpPolicy", _cartpole(), ent_coef=0.1, vf_learning_rate=2e-4, **TINY)
    changes = dict(ent_coef=0.3, learning_rate=1e-5, vf_learning_rate=5e-5, clip_range=0.05)
    history = _recorded(model, 4 * 32, SetAtUpdate(3, **changes))
    assert history["train/ent_coef"] == [0.1, 0.1, 0.3, 0.3]
    assert history["train/learning_rate"] == [3e-4, 3e-4, 1e-5, 1e-5]
    assert history["train/vf_learning_rate"] == [2e-4, 2e-4, 5e-5, 5e-5]
    assert history["train/clip_range"] == [0.2, 0.2, 0.05, 0.05]
    actor, critic = model.policy.optimizer.param_groups
    assert (actor["lr"], critic["lr"]) == (1e-5, 5e-5)


def test_live_clip_range_vf_is_used_by_the_next_update():
    """``clip_range_vf`` set from a callback when rollout 3 starts: updates 3 and 4 clip the value loss with it. The
    reference is SB3's PPO with a schedule that switches at the same update (progress 0.75, 0.5 | 0.25, 0.0): the
    same parameters (``torch.equal``), and not those of a PPO whose clip range stays 0.2 (the change matters).
    Catches ``clip_range_vf`` dropped from ``LIVE_ATTRIBUTES`` or from the schedules rebuilt at the next update."""
    kwargs = dict(TINY, learning_rate=3e-3)
    live = PPOG("MlpPolicy", _cartpole(), clip_range_vf=0.2, policy_loss="clip", **kwargs)
    history = _recorded(live, 4 * 32, SetAtUpdate(3, clip_range_vf=0.05))
    assert history["train/clip_range_vf"] == [0.2, 0.2, 0.05, 0.05]
    switched = PPO("MlpPolicy", _cartpole(), clip_range_vf=lambda p: 0.2 if p > 0.4 else 0.05, **kwargs)
    assert _recorded(switched, 4 * 32)["train/clip_range_vf"] == history["train/clip_range_vf"]
    assert_same_parameters(live, switched)
    constant = PPO("MlpPolicy", _cartpole(), clip_range_vf=0.2, **kwargs).learn(4 * 32)
    value_net = "value_net.weight"
    assert not th.equal(constant.policy.state_dict()[value_net], live.policy.state_dict()[value_net])


def test_live_decay_and_floor_continue_from_the_reached_coefficient(tmp_path):
    model = PPOG("MlpPolicy", _cartpole(), ent_coef=0.1, ent_coef_decay=0.5, **TINY)
    history = _recorded(model, 5 * 32, SetAtUpdate(3, ent_coef_decay=0.9, ent_coef_min=0.02))
    expected = [0.05, 0.025, 0.025 * 0.9, max(0.02, 0.025 * 0.81), max(0.02, 0.025 * 0.729)]
    assert history["train/ent_coef"] == pytest.approx(expected, rel=1e-12)

    model.save(tmp_path / "model")
    loaded = PPOG.load(tmp_path / "model", env=_cartpole())
    assert (loaded.ent_coef_decay, loaded.ent_coef_min) == (0.9, 0.02)
    assert loaded.current_ent_coef == pytest.approx(model.current_ent_coef, rel=1e-12)
    loaded.ent_coef = 0.5  # and a loaded model can be changed too
    history = _recorded(loaded, 32)
    assert history["train/ent_coef"] == [pytest.approx(0.45)]


def test_a_bad_live_value_is_refused_at_the_next_update():
    model = PPOG("MlpPolicy", _cartpole(), **TINY)
    model.learn(32)
    model.ent_coef_decay = 1.5
    with pytest.raises(ValueError, match=r"ent_coef_decay=1.5 must be in \(0, 1\]"):
        model.learn(32, reset_num_timesteps=False)


def test_lr_schedule_assigned_directly_still_works():
    """SB3's own habit: assigning ``model.lr_schedule``; PPOG must not overwrite it at the next update."""
    model = PPOG("MlpPolicy", _cartpole(), **TINY)
    model.lr_schedule = lambda _: 7e-5
    history = _recorded(model, 32)
    assert history["train/learning_rate"] == [7e-5] and history["train/vf_learning_rate"] == [7e-5]


# 6. one name, one meaning: train/clip_fraction is SB3's for both losses
def test_clip_fraction_means_what_it_means_in_sb3():
    kwargs = dict(TINY, n_epochs=10, learning_rate=1e-2, seed=1)  # ratios move far enough to leave the band
    ppo = _recorded(PPO("MlpPolicy", _cartpole(seed=1), **kwargs), 96)
    clip = _recorded(PPOG("MlpPolicy", _cartpole(seed=1), policy_loss="clip", **kwargs), 96)
    assert clip["train/clip_fraction"] == ppo["train/clip_fraction"]  # same runs, same numbers
    ppog = _recorded(PPOG("MlpPolicy", _cartpole(seed=1), **kwargs), 96)
    for clip_fraction, masked_fraction in zip(ppog["train/clip_fraction"], ppog["train/masked_fraction"]):
        assert clip_fraction >= masked_fraction  # the mask is a subset of |ratio - 1| > eps
    assert any(c > m for c, m in zip(ppog["train/clip_fraction"], ppog["train/masked_fraction"]))


# 7. precision="auto": native bf16 only, on the model's device
@pytest.mark.parametrize(
    "device_type, capability, avx512_bf16, amx, native",
    [
        ("cuda", (7, 5), False, False, False),  # Turing: bf16 emulated
        ("cuda", (8, 0), False, False, True),  # Ampere A100
        ("cuda", (9, 0), False, False, True),  # Hopper
        ("cuda", None, False, False, False),
        ("cpu", None, False, False, False),  # AVX2 / AVX-512 without BF16
        ("cpu", None, True, False, True),
        ("cpu", None, False, True, True),
        ("mps", None, True, True, False),
    ],
)
def test_bf16_decision(device_type, capability, avx512_bf16, amx, native):
    assert bf16_is_native(device_type, capability, avx512_bf16, amx) is native


def test_bf16_asks_about_the_models_device():
    asked = []

    def capability(device):
        asked.append(device)
        return {0: (7, 0), 1: (8, 6)}[device.index]

    assert has_native_bf16("cuda:1", cuda_capability=capability) is True
    assert has_native_bf16("cuda:0", cuda_capability=capability) is False
    assert asked == [th.device("cuda:1"), th.device("cuda:0")]
    assert has_native_bf16("cpu", cpu_flags=lambda: (False, False)) is False
    assert has_native_bf16("cpu", cpu_flags=lambda: (True, False)) is True


# 9. small traps
def test_rollout_buffer_kwargs_cannot_contradict_advantage_estimator():
    with pytest.raises(ValueError, match=r"rollout_buffer_kwargs\['advantage_estimator'\]='nstep' contradicts"):
        PPOG("MlpPolicy", _cartpole(), rollout_buffer_kwargs={"advantage_estimator": "nstep"}, **TINY)
    model = PPOG("MlpPolicy", _cartpole(), advantage_estimator="nstep", rollout_buffer_kwargs={"advantage_estimator": "nstep"})
    assert model.rollout_buffer.advantage_estimator == "nstep"


def test_the_callers_rollout_buffer_kwargs_are_not_mutated(tmp_path):
    from helpers import image_vec_env

    user_kwargs: dict = {}
    model = PPOG(
        "CnnPolicy", image_vec_env(), channels_last=True, rollout_buffer_kwargs=user_kwargs, n_steps=16, batch_size=16
    )
    assert user_kwargs == {} and model.rollout_buffer_kwargs == {}
    assert model.rollout_buffer.channels_last and model.rollout_buffer.advantage_estimator == "gae"
    model.save(tmp_path / "model")
    assert PPOG.load(tmp_path / "model").rollout_buffer_kwargs == {}


def test_non_finite_update_does_not_consume_a_decay_step():
    model = PPOG("MlpPolicy", _cartpole(), ent_coef=0.1, ent_coef_decay=0.5, **TINY)
    model.learn(32)
    before = (model._n_train_updates, model.current_ent_coef)
    model.rollout_buffer.rewards[0, 0] = np.nan
    with pytest.raises(NonFiniteError, match="PPOG update 2 "):
        model.train()
    assert (model._n_train_updates, model.current_ent_coef) == before
