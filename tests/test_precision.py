"""Speed options: channels_last (same math) and bf16 autocast (network in bf16; loss, buffer, optimizer in fp32)."""

import numpy as np
import pytest
import torch as th
from helpers import SMALL_CNN, forward_backward, image_vec_env, random_batch

from ppog_sb3 import PPOG
from ppog_sb3.common.precision import has_native_bf16

CNN = dict(SMALL_CNN, device="cpu")


def test_channels_last_computes_the_same():
    reference = PPOG("CnnPolicy", image_vec_env(), **CNN)
    fast = PPOG("CnnPolicy", image_vec_env(), channels_last=True, **CNN)
    conv = fast.policy.features_extractor.cnn[0].weight
    assert conv.is_contiguous(memory_format=th.channels_last) and not conv.is_contiguous()
    values_a, log_prob_a, grads_a = forward_backward(reference, *random_batch(reference))
    values_b, log_prob_b, grads_b = forward_backward(fast, *random_batch(fast))
    th.testing.assert_close(values_b, values_a, rtol=1e-5, atol=1e-6)
    th.testing.assert_close(log_prob_b, log_prob_a, rtol=1e-5, atol=1e-6)
    for name, grad in grads_a.items():
        th.testing.assert_close(grads_b[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    fast.learn(64)  # and it trains
    assert fast.policy.features_extractor.cnn[0].weight.is_contiguous(memory_format=th.channels_last)


@pytest.mark.filterwarnings("ignore:precision='bf16'")
def test_bf16_keeps_loss_buffer_and_optimizer_in_fp32():
    model = PPOG("CnnPolicy", image_vec_env(), precision="bf16", channels_last=True, **CNN)
    assert model._use_bf16
    model.learn(128)
    assert model.rollout_buffer.values.dtype == np.float32 and model.rollout_buffer.log_probs.dtype == np.float32
    assert np.isfinite(model.rollout_buffer.advantages).all()
    for parameter in model.policy.parameters():
        assert parameter.dtype == th.float32
    for state in model.policy.optimizer.state.values():
        assert state["exp_avg"].dtype == th.float32
    # bf16 changes the rounding, not the computation: one forward/backward is close to fp32's
    reference = PPOG("CnnPolicy", image_vec_env(), **CNN)
    reference.set_parameters(model.get_parameters())
    values_a, log_prob_a, grads_a = forward_backward(reference, *random_batch(reference))
    values_b, log_prob_b, grads_b = forward_backward(model, *random_batch(model))
    assert values_b.dtype == th.float32
    th.testing.assert_close(values_b, values_a, rtol=0.05, atol=0.02)
    th.testing.assert_close(log_prob_b, log_prob_a, rtol=0.05, atol=0.02)
    cosine = th.nn.functional.cosine_similarity(
        th.cat([g.flatten() for g in grads_a.values()]), th.cat([grads_b[k].flatten() for k in grads_a]), dim=0
    )
    assert cosine > 0.98


@pytest.mark.parametrize("native", [False, True], ids=["emulated", "native"])
def test_bf16_warns_only_where_it_is_emulated(monkeypatch, native):
    """``precision="bf16"`` warns where bf16 is only emulated, and only there; the capability is injected, so both
    cases run on every machine (this test once skipped itself where bf16 is native). Catches the warning removed,
    or given whatever the hardware."""
    import warnings

    from ppog_sb3.common import precision

    monkeypatch.setattr(precision, "has_native_bf16", lambda device, *args, **kwargs: native)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PPOG("MlpPolicy", "CartPole-v1", precision="bf16", device="cpu", n_steps=16, batch_size=16)
    emulated = [w for w in caught if "emulated and much slower" in str(w.message)]
    assert model._use_bf16 and len(emulated) == (0 if native else 1)


def test_auto_precision_follows_the_hardware():
    model = PPOG("MlpPolicy", "CartPole-v1", precision="auto", device="cpu")
    assert model._use_bf16 == has_native_bf16(th.device("cpu"))
    assert model.precision == "auto"


@pytest.mark.filterwarnings("ignore:You are trying to run PPOG on the GPU")  # SB3's advice for any non-CPU device
@pytest.mark.parametrize("native_on", ["meta", "cpu"])
def test_auto_precision_decides_on_the_models_device(monkeypatch, tmp_path, native_on):
    """``precision="auto"`` asks about the model's own device, at construction and at load. The model is on torch's
    ``meta`` device (no data; it exists on every machine) standing in for a GPU, with bf16 faked native on that
    device only, or on the CPU only. Catches ``use_bf16(self.precision, th.device("cpu"))`` (or any device but the
    model's) in ``PPOG._setup_model``, which every other precision test, run on a CPU model, lets through."""
    from ppog_sb3.common import precision

    asked: list[th.device] = []

    def native_here(device, *args, **kwargs) -> bool:  # the capability, injected: only `native_on` has bf16
        asked.append(th.device(device))
        return th.device(device).type == native_on

    monkeypatch.setattr(precision, "has_native_bf16", native_here)
    model = PPOG("MlpPolicy", "CartPole-v1", precision="auto", device="meta", n_steps=16, batch_size=16)
    assert model.device == th.device("meta") and next(model.policy.parameters()).is_meta
    assert asked == [th.device("meta")]
    assert model._use_bf16 is (native_on == "meta")

    PPOG("MlpPolicy", "CartPole-v1", precision="auto", device="cpu", n_steps=16, batch_size=16).save(tmp_path / "model")
    asked.clear()
    loaded = PPOG.load(tmp_path / "model", device="meta")  # decided again for the device it is loaded on
    assert asked == [th.device("meta")] and loaded._use_bf16 is (native_on == "meta")


def test_cnn_policy_feeds_bf16_images_directly_under_autocast():
    """Under bf16 autocast PPOG's CnnPolicy computes bf16(obs) / 255 (no float32 copy); without it, SB3's preprocessing."""
    from stable_baselines3.common.policies import ActorCriticCnnPolicy
    from stable_baselines3.common.preprocessing import preprocess_obs

    model = PPOG("CnnPolicy", image_vec_env(), **CNN)
    policy = model.policy
    assert isinstance(policy, ActorCriticCnnPolicy)
    observations, _ = random_batch(model)
    extractor = policy.features_extractor
    with th.no_grad():
        fp32 = policy.extract_features(observations)
        assert th.equal(fp32, extractor(preprocess_obs(observations, model.observation_space)))  # SB3's, exactly
        with th.autocast("cpu", dtype=th.bfloat16):
            bf16 = policy.extract_features(observations)
            assert th.equal(bf16, extractor(observations.to(th.bfloat16) / 255.0))
            sb3_way = extractor(observations.float() / 255.0)
    th.testing.assert_close(bf16.float(), sb3_way.float(), rtol=0.02, atol=0.02)  # the same math, bf16 rounding
