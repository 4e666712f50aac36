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


def test_bf16_without_native_support_warns():
    if has_native_bf16(th.device("cpu")):
        pytest.skip("this CPU has native bf16: nothing to warn about")
    with pytest.warns(UserWarning, match="emulated and much slower"):
        PPOG("MlpPolicy", "CartPole-v1", precision="bf16", device="cpu")


def test_auto_precision_follows_the_hardware():
    model = PPOG("MlpPolicy", "CartPole-v1", precision="auto", device="cpu")
    assert model._use_bf16 == has_native_bf16(th.device("cpu"))
    assert model.precision == "auto"


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
