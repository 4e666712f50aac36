"""The CUDA path (issue #4): PPOG trains on a GPU in fp32 and bf16, keeps the loss, buffer and optimizer state in fp32,
computes what the CPU computes, and its files load on a CPU-only machine.

Skipped where torch sees no GPU (CI has none); ``benchmarks/gpu_check.sh`` runs them on a GPU machine."""

import subprocess
import sys

import numpy as np
import pytest
import torch as th
from helpers import SMALL_CNN as CNN
from helpers import forward_backward, image_vec_env, random_batch

from ppog_sb3 import PPOG

pytestmark = pytest.mark.skipif(not th.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_cuda_trains_and_loads_on_cpu(tmp_path, precision, channels_last):
    model = PPOG("CnnPolicy", image_vec_env(), device="cuda", precision=precision, channels_last=channels_last, **CNN)
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
    actions, _ = on_cpu.predict(image_vec_env().reset(), deterministic=True)
    assert actions.shape == (2,)


def test_cuda_computes_what_the_cpu_computes():
    cpu = PPOG("CnnPolicy", image_vec_env(), device="cpu", **CNN)
    gpu = PPOG("CnnPolicy", image_vec_env(), device="cuda", **CNN)
    gpu.set_parameters(cpu.get_parameters())
    results = [forward_backward(model, *random_batch(model)) for model in (cpu, gpu)]
    # TF32 may be on for convolutions: compare at TF32's precision, not fp32's
    (values_a, log_prob_a, grads_a), (values_b, log_prob_b, grads_b) = results
    th.testing.assert_close(values_b, values_a, rtol=2e-2, atol=2e-3)
    th.testing.assert_close(log_prob_b, log_prob_a, rtol=2e-2, atol=2e-3)
    for name, grad in grads_a.items():
        th.testing.assert_close(grads_b[name], grad, rtol=2e-2, atol=2e-3, msg=name)


def test_cuda_on_the_fast_atari_path():
    import ppog_sb3

    env = ppog_sb3.make_atari_vec_env("SpaceInvaders", n_envs=2, seed=0)
    model = PPOG("CnnPolicy", env, device="cuda", precision="auto", channels_last=True, n_steps=32, batch_size=32, seed=0)
    model.learn(128)
    assert model.num_timesteps == 128
    env.close()


def test_load_on_cuda_leaves_cudnn_flags_and_cuda_generators(tmp_path, monkeypatch):
    """CUDA started before the load: cuDNN's flags and every CUDA generator's state are what they were (SB3's load
    sets deterministic on, benchmark off and reseeds the generators with the model's seed)."""
    PPOG("CnnPolicy", image_vec_env(), device="cuda", **CNN).save(tmp_path / "model")
    monkeypatch.setattr(th.backends.cudnn, "deterministic", False)
    monkeypatch.setattr(th.backends.cudnn, "benchmark", True)
    th.cuda.manual_seed_all(123)
    before = th.cuda.get_rng_state_all()
    PPOG.load(tmp_path / "model", device="cuda")
    assert (th.backends.cudnn.deterministic, th.backends.cudnn.benchmark) == (False, True)
    assert all(th.equal(a, b) for a, b in zip(th.cuda.get_rng_state_all(), before))


LOAD_IN_A_FRESH_PROCESS = """
import sys, torch as th
from ppog_sb3 import PPOG
th.backends.cudnn.benchmark = True
th.cuda.manual_seed_all(5)  # queued: CUDA has not started yet
assert not th.cuda.is_initialized()
if sys.argv[1] == "load":
    PPOG.load(sys.argv[2], device="cuda")  # starts CUDA
print(th.backends.cudnn.deterministic, th.backends.cudnn.benchmark, th.rand(4, device="cuda").tolist())
"""


def test_load_before_cuda_starts_leaves_the_queued_seed(tmp_path):
    """CUDA not started before the load (a fresh process): the generators start from the process's own queued seed,
    not the model's, and the cuDNN flags stay; compared with the same process without the load."""
    PPOG("CnnPolicy", image_vec_env(), device="cuda", **CNN).save(tmp_path / "model")

    def run(*args: str) -> str:
        command = [sys.executable, "-c", LOAD_IN_A_FRESH_PROCESS, *args]
        return subprocess.run(command, capture_output=True, text=True, check=True, timeout=300).stdout.strip()

    assert run("load", str(tmp_path / "model.zip")) == run("none") and run("none").startswith("False True")
