"""The CUDA path (issue #4): PPOG trains on a GPU in fp32 and bf16, keeps the loss, buffer and optimizer state in fp32,
computes what the CPU computes, and its files load on a CPU-only machine.

Skipped where torch sees no GPU (CI has none); ``benchmarks/gpu_check.sh`` runs them on a GPU machine."""

import numpy as np
import pytest
import torch as th
from helpers import SmallImageEnv
from stable_baselines3.common.env_util import make_vec_env

from ppog_sb3 import PPOG

pytestmark = pytest.mark.skipif(not th.cuda.is_available(), reason="no CUDA device")

CNN = dict(n_steps=32, batch_size=32, n_epochs=2, seed=1, policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=32)))


def _image_env():
    return make_vec_env(lambda: SmallImageEnv(channels=4, channel_first=True, max_steps=20), n_envs=2, seed=2)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_cuda_trains_and_loads_on_cpu(tmp_path, precision, channels_last):
    model = PPOG("CnnPolicy", _image_env(), device="cuda", precision=precision, channels_last=channels_last, **CNN)
    assert model._use_bf16 == (precision == "bf16")
    model.learn(128)
    for parameter in model.policy.parameters():
        assert parameter.is_cuda and parameter.dtype == th.float32
    for state in model.policy.optimizer.state.values():
        assert state["exp_avg"].is_cuda and state["exp_avg"].dtype == th.float32
    assert np.isfinite(model.rollout_buffer.advantages).all()
    model.save(tmp_path / "model.zip")
    on_cpu = PPOG.load(tmp_path / "model.zip", device="cpu")
    for name, parameter in model.policy.state_dict().items():
        th.testing.assert_close(on_cpu.policy.state_dict()[name], parameter.cpu(), msg=name)
    actions, _ = on_cpu.predict(_image_env().reset(), deterministic=True)
    assert actions.shape == (2,)


def test_cuda_computes_what_the_cpu_computes():
    cpu = PPOG("CnnPolicy", _image_env(), device="cpu", **CNN)
    gpu = PPOG("CnnPolicy", _image_env(), device="cuda", **CNN)
    gpu.set_parameters(cpu.get_parameters())
    rng = np.random.default_rng(0)
    observations = rng.integers(0, 256, size=(64, *cpu.observation_space.shape), dtype=np.uint8)
    actions = rng.integers(0, 4, size=64)
    results = []
    for model in (cpu, gpu):
        obs = th.as_tensor(observations, device=model.device)
        values, log_prob, _ = model.policy.evaluate_actions(obs, th.as_tensor(actions, device=model.device))
        (values.pow(2).mean() - log_prob.mean()).backward()
        grads = th.cat([p.grad.flatten().cpu() for p in model.policy.parameters()])
        results.append((values.detach().cpu(), log_prob.detach().cpu(), grads))
    # TF32 may be on for convolutions: compare at TF32's precision, not fp32's
    for a, b in zip(*results):
        th.testing.assert_close(b, a, rtol=2e-2, atol=2e-3)


def test_cuda_on_the_fast_atari_path():
    import ppog_sb3

    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=2, seed=0)
    model = PPOG("CnnPolicy", env, device="cuda", precision="auto", channels_last=True, n_steps=32, batch_size=32, seed=0)
    model.learn(128)
    assert model.num_timesteps == 128
    env.close()
