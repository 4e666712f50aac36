"""Nothing lost on a crash, no silent corruption, clear errors, reproducible runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from helpers import CrashAfterCheckpoint, assert_same_parameters
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import CheckpointCallback
from stable_baselines3.common.env_util import make_vec_env

from ppog_sb3 import PPOG, NonFiniteError

TINY = dict(n_steps=16, batch_size=16, n_epochs=2, policy_kwargs=dict(net_arch=[16]), seed=3, device="cpu")
RESUME = dict(ent_coef=0.05, ent_coef_decay=0.9, ent_coef_min=0.01, learning_rate=1e-3, vf_learning_rate=3e-3, **TINY)


def _same_state(a: PPOG, b: PPOG) -> None:
    assert_same_parameters(a, b)
    opt_a, opt_b = a.policy.optimizer.state_dict(), b.policy.optimizer.state_dict()
    assert [g["lr"] for g in opt_a["param_groups"]] == [g["lr"] for g in opt_b["param_groups"]]
    for index, state in opt_a["state"].items():
        for name, value in state.items():
            assert th.equal(th.as_tensor(value), th.as_tensor(opt_b["state"][index][name])), (index, name)
    assert a.num_timesteps == b.num_timesteps and a._n_updates == b._n_updates
    assert a.current_ent_coef == b.current_ent_coef


@pytest.mark.parametrize("save_freq", [80, 88], ids=["end-of-rollout", "mid-rollout"])
def test_resume_from_checkpoint_callback_is_exact(tmp_path, save_freq):
    """A run that crashes right after a CheckpointCallback checkpoint, resumed from that file on the same env
    object, ends exactly where the uninterrupted run ends: parameters, optimizer state, entropy coefficient."""
    total = 320
    kwargs = {**RESUME, "learning_rate": lambda p: 1e-3 * p}  # schedule progress must continue too
    env_a = make_vec_env("CartPole-v1", n_envs=2, seed=5)
    uninterrupted = PPOG("MlpPolicy", env_a, **kwargs)
    uninterrupted.learn(total, callback=CheckpointCallback(save_freq=save_freq, save_path=str(tmp_path / "a")))

    env_b = make_vec_env("CartPole-v1", n_envs=2, seed=5)
    crashed = PPOG("MlpPolicy", env_b, **kwargs)
    checkpoints = CheckpointCallback(save_freq=save_freq, save_path=str(tmp_path / "b"))
    crashed.learn(total, callback=[checkpoints, CrashAfterCheckpoint(save_freq)])
    del crashed
    np.random.seed(999)  # whatever happened in between must not matter
    done = 2 * save_freq
    resumed = PPOG.load(tmp_path / "b" / f"rl_model_{done}_steps.zip", env=env_b, force_reset=False)
    assert resumed.num_timesteps == done
    resumed.learn(total - done, reset_num_timesteps=False)
    _same_state(uninterrupted, resumed)


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    model = PPOG("MlpPolicy", "CartPole-v1", **TINY)
    target = tmp_path / "model.zip"
    model.save(target)
    good = target.read_bytes()
    model.learn(32)

    import stable_baselines3.common.base_class as base_class

    def crash_mid_write(save_path, data=None, params=None, pytorch_variables=None):
        with open(save_path, "wb") as handle:
            handle.write(b"PK\x03\x04 half a model")
        raise KeyboardInterrupt  # the process dies while writing

    monkeypatch.setattr(base_class, "save_to_zip_file", crash_mid_write)
    with pytest.raises(KeyboardInterrupt):
        model.save(target)
    assert target.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.zip"]  # no temporary file left behind
    PPOG.load(target)


def test_sigkill_leaves_last_checkpoint_loadable(tmp_path):
    script = textwrap.dedent(
        f"""
        from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback
        from ppog_sb3 import PPOG
        model = PPOG("MlpPolicy", "CartPole-v1", n_steps=16, batch_size=16, n_epochs=1, device="cpu",
                     policy_kwargs=dict(net_arch=[256, 256]))
        model.learn(10**9, callback=CheckpointCallback(save_freq=16, save_path={str(tmp_path)!r}))
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(list(tmp_path.glob("rl_model_*_steps.zip"))) < 4:
            time.sleep(0.2)
        assert process.poll() is None, "training process ended on its own"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    checkpoints = sorted(tmp_path.glob("rl_model_*_steps.zip"), key=lambda p: int(p.stem.split("_")[2]))
    assert len(checkpoints) >= 4
    last = PPOG.load(checkpoints[-1])
    assert last.num_timesteps == int(checkpoints[-1].stem.split("_")[2])
    # every file with the final name is complete: the kill can only leave a hidden temporary file
    for checkpoint in checkpoints:
        assert zipfile.ZipFile(checkpoint).testzip() is None


class NaNRewardEnv(gym.Wrapper):
    def __init__(self, env, nan_after: int):
        super().__init__(env)
        self.steps = 0
        self.nan_after = nan_after

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        return obs, (float("nan") if self.steps > self.nan_after else reward), terminated, truncated, info


def test_nan_reward_stops_before_the_update():
    model = PPOG("MlpPolicy", NaNRewardEnv(gym.make("CartPole-v1"), nan_after=40), **TINY)
    model.learn(32)  # two clean updates
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    with pytest.raises(NonFiniteError, match=r"PPOG update 3 .*non-finite rewards.*reward"):
        model.learn(32, reset_num_timesteps=False)
    for key, value in model.policy.state_dict().items():
        assert th.equal(value, before[key]), key


def test_nan_gradient_stops_before_the_optimizer_step():
    model = PPOG("MlpPolicy", "CartPole-v1", **TINY)
    model.learn(16)
    weight = model.policy.action_net.weight
    hook = weight.register_hook(lambda grad: grad * float("inf"))
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    with pytest.raises(NonFiniteError, match=r"non-finite gradient.*learning rate"):
        model.learn(16, reset_num_timesteps=False)
    hook.remove()
    for key, value in model.policy.state_dict().items():
        assert th.equal(value, before[key]), key


def test_exploding_observations_are_caught():
    class Huge(gym.ObservationWrapper):
        def __init__(self, env):
            super().__init__(env)
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)

        def observation(self, observation):
            return np.full(4, np.inf, dtype=np.float32)

    model = PPOG("MlpPolicy", Huge(gym.make("CartPole-v1")), **TINY)
    with pytest.raises(NonFiniteError, match="non-finite"):
        model.learn(32)


def test_same_seed_same_result_cartpole():
    def run():
        model = PPOG("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=4), **TINY)
        model.learn(256)
        return model

    a, b = run(), run()
    assert_same_parameters(a, b)


def test_bad_files(tmp_path):
    not_a_model = tmp_path / "notes.zip"
    not_a_model.write_text("hello")
    with pytest.raises(ValueError, match="is not a model file"):
        PPOG.load(not_a_model)

    model = PPOG("MlpPolicy", "CartPole-v1", **TINY)
    model.save(tmp_path / "good.zip")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes((tmp_path / "good.zip").read_bytes()[:-200])
    with pytest.raises(ValueError, match="truncated"):
        PPOG.load(truncated)

    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "not a model")
    with pytest.raises(ValueError, match="not a Stable-Baselines3 model"):
        PPOG.load(tmp_path / "other.zip")

    PPO("MlpPolicy", "CartPole-v1", n_steps=16, batch_size=16, device="cpu").save(tmp_path / "ppo.zip")
    with pytest.raises(ValueError, match="not saved by PPOG.*another algorithm"):
        PPOG.load(tmp_path / "ppo.zip")

    with pytest.raises(ValueError, match="Observation spaces do not match"):
        PPOG.load(tmp_path / "good.zip", env=make_vec_env("Pendulum-v1", n_envs=1))

    with pytest.raises(FileNotFoundError, match="No model file"):
        PPOG.load(tmp_path / "missing")


def test_model_loads_in_a_fresh_process(tmp_path):
    model = PPOG("MlpPolicy", "CartPole-v1", ent_coef="lin_0.02", vf_learning_rate=lambda p: 1e-3 * p, **TINY)
    model.learn(32)
    model.save(tmp_path / "model")
    obs = np.array([0.01, -0.02, 0.03, 0.04], dtype=np.float32)
    expected = int(model.predict(obs, deterministic=True)[0])
    code = (
        "import numpy as np; from ppog_sb3 import PPOG; "
        f"m = PPOG.load({str(tmp_path / 'model')!r}); "
        "print(int(m.predict(np.array([0.01, -0.02, 0.03, 0.04], dtype=np.float32), deterministic=True)[0]), "
        "m.vf_lr_schedule(0.5))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert int(out[0]) == expected
    assert float(out[1]) == pytest.approx(5e-4)


@pytest.mark.slow
def test_same_seed_same_result_fast_atari_path():
    """The fast ALE path is deterministic for a seed too (its C++ worker threads each own whole emulators)."""
    import ppog_sb3

    def run():
        env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=2, seed=7)
        model = PPOG(
            "CnnPolicy",
            env,
            n_steps=32,
            batch_size=32,
            n_epochs=1,
            seed=7,
            device="cpu",
            channels_last=True,
            policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=32)),
        )
        model.learn(128)
        env.close()
        return model

    a, b = run(), run()
    assert a.num_timesteps == b.num_timesteps == 128
    assert_same_parameters(a, b)
    np.testing.assert_array_equal(a.rollout_buffer.observations, b.rollout_buffer.observations)
