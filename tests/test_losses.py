"""The PPOG loss on its own: gradients against the closed form, the mask against PPO-clip's zero-gradient set."""

import pytest
import torch as th
from hypothesis import given, settings
from hypothesis import strategies as st

from ppog_sb3.common.losses import clip_policy_loss, ppo_clip_mask, ppog_policy_loss


def _random_batch(seed: int, n: int, spread: float):
    gen = th.Generator().manual_seed(seed)
    advantages = th.randn(n, generator=gen, dtype=th.float64)
    old_log_prob = -th.rand(n, generator=gen, dtype=th.float64) * 3
    # ratios spread well beyond the trust region on both sides
    log_prob = (old_log_prob + spread * th.randn(n, generator=gen, dtype=th.float64)).requires_grad_(True)
    return advantages, log_prob, old_log_prob


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 300), clip=st.floats(0.01, 0.5), spread=st.floats(0.0, 1.0))
def test_ppog_gradient_is_masked_plain_policy_gradient(seed, n, clip, spread):
    advantages, log_prob, old_log_prob = _random_batch(seed, n, spread)
    loss, mask = ppog_policy_loss(advantages, log_prob, old_log_prob, clip)
    (grad,) = th.autograd.grad(loss, log_prob)
    # d loss / d logp_i = -A_i / N on unmasked samples, 0 on masked ones
    expected = th.where(mask, th.zeros_like(advantages), -advantages / n)
    th.testing.assert_close(grad, expected, rtol=0, atol=1e-15)
    # the value: mean over the whole minibatch, masked zeros included
    expected_loss = th.where(mask, 0.0, -advantages * log_prob.detach()).sum() / n
    th.testing.assert_close(loss.detach(), expected_loss)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 300), clip=st.floats(0.01, 0.5), spread=st.floats(0.0, 1.0))
def test_mask_is_exactly_ppo_clip_zero_gradient_set(seed, n, clip, spread):
    advantages, log_prob, old_log_prob = _random_batch(seed, n, spread)
    loss, mask = clip_policy_loss(advantages, log_prob, old_log_prob, clip)
    (grad,) = th.autograd.grad(loss, log_prob)
    ratio = th.exp(log_prob.detach() - old_log_prob)
    # PPO-clip's gradient is -A * ratio / N off the mask and exactly zero on it
    expected = th.where(mask, th.zeros_like(advantages), -advantages * ratio / n)
    th.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-15)
    # and the set itself, written independently: A>0 with ratio>1+eps, A<0 with ratio<1-eps
    independent = ((advantages > 0) & (ratio > 1 + clip)) | ((advantages < 0) & (ratio < 1 - clip))
    assert th.equal(mask, independent)
    # PPOG masks the same samples
    _, ppog_mask = ppog_policy_loss(advantages, log_prob, old_log_prob, clip)
    assert th.equal(mask, ppog_mask)


def test_hand_computed_example():
    # four samples, eps = 0.2; ratios 1.5 (A>0: masked), 1.5 (A<0: kept), 0.5 (A<0: masked), 0.5 (A>0: kept)
    advantages = th.tensor([1.0, -2.0, -1.0, 3.0], dtype=th.float64)
    old = th.zeros(4, dtype=th.float64)
    logp = th.log(th.tensor([1.5, 1.5, 0.5, 0.5], dtype=th.float64)).requires_grad_(True)
    loss, mask = ppog_policy_loss(advantages, logp, old, 0.2)
    assert mask.tolist() == [True, False, True, False]
    expected = (2.0 * th.log(th.tensor(1.5)) - 3.0 * th.log(th.tensor(0.5))) / 4
    assert loss.item() == pytest.approx(expected.item())
    (grad,) = th.autograd.grad(loss, logp)
    assert grad.tolist() == pytest.approx([0.0, 0.5, 0.0, -0.75])


def test_ratio_one_masks_nothing():
    advantages = th.randn(64)
    logp = th.randn(64)
    assert not ppo_clip_mask(advantages, th.exp(logp - logp), 0.1).any()


def test_ppog_and_clip_agree_at_ratio_one():
    """At the first minibatch of an update (ratio == 1), both losses have the same gradient."""
    advantages, log_prob, _ = _random_batch(3, 50, 0.0)
    old = log_prob.detach().clone()
    grad_ppog = th.autograd.grad(ppog_policy_loss(advantages, log_prob, old, 0.2)[0], log_prob)[0]
    grad_clip = th.autograd.grad(clip_policy_loss(advantages, log_prob, old, 0.2)[0], log_prob)[0]
    th.testing.assert_close(grad_ppog, grad_clip)
