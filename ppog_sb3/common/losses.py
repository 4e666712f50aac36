"""Policy losses of PPOG and PPO as pure functions of tensors.

Both functions take the minibatch's advantages, the current log-probabilities (with gradient) and the
log-probabilities stored at rollout time, and return ``(loss, zero_grad_mask)``. Keeping them outside the
algorithm lets the tests check their gradients on random tensors, and lets ``PPOG`` switch between them with
everything else equal (``policy_loss="ppog"`` or ``"clip"``).
"""

from __future__ import annotations

import torch as th


def ppo_clip_mask(advantages: th.Tensor, ratio: th.Tensor, clip_range: float) -> th.Tensor:
    """The samples on which PPO-clip's surrogate has zero gradient (and PPOG masks the gradient).

    ``(A > 0 and ratio > 1 + eps) or (A < 0 and ratio < 1 - eps)``: the ratio left the trust region in the
    direction the advantage pushes it, so the clipped objective is constant there.

    Written as in the course code, ``outside & too_far`` with
    ``outside = (ratio < 1 - eps) | (ratio > 1 + eps)`` and
    ``too_far = (A > 0 & ratio > 1) | (A < 0 & ratio < 1)``, which is the same set.
    """
    outside = (ratio < 1 - clip_range) | (ratio > 1 + clip_range)
    too_far = ((advantages > 0) & (ratio > 1)) | ((advantages < 0) & (ratio < 1))
    return outside & too_far


def ppog_policy_loss(
    advantages: th.Tensor, log_prob: th.Tensor, old_log_prob: th.Tensor, clip_range: float
) -> tuple[th.Tensor, th.Tensor]:
    r"""PPOG's masked-gradient policy loss.

    .. math::

        r = \exp(\log\pi - \log\pi_{old}), \qquad
        m = \text{ppo\_clip\_mask}(A, r, \epsilon)

        L = \frac{1}{N} \sum_i [\lnot m_i] \, (-A_i \log\pi_i)

    The mean runs over the whole minibatch, masked zeros included. Its gradient is
    ``-A_i * grad(log pi_i) / N`` on unmasked samples and zero on masked ones: the plain policy-gradient step
    (no importance weight) inside PPO-clip's trust region. PPO-clip's gradient on the same unmasked samples is
    ``-A_i * r_i * grad(log pi_i) / N``.

    :param advantages: advantage estimates, shape ``(N,)`` (normalized or not, as the caller decides)
    :param log_prob: log-probabilities of the taken actions under the current policy, shape ``(N,)``
    :param old_log_prob: log-probabilities stored at rollout time, shape ``(N,)``
    :param clip_range: the trust-region half-width ``eps`` (> 0)
    :return: the scalar loss and the boolean mask of samples whose gradient is switched off
    """
    with th.no_grad():
        ratio = th.exp(log_prob - old_log_prob)
        mask = ppo_clip_mask(advantages, ratio, clip_range)
    per_sample = -advantages * log_prob
    loss = th.where(mask, th.zeros_like(per_sample), per_sample).mean()
    return loss, mask


def clip_policy_loss(
    advantages: th.Tensor, log_prob: th.Tensor, old_log_prob: th.Tensor, clip_range: float
) -> tuple[th.Tensor, th.Tensor]:
    r"""PPO's clipped surrogate loss, computed exactly as Stable-Baselines3's ``PPO.train()`` does.

    .. math::

        L = -\frac{1}{N} \sum_i \min(A_i r_i, \; A_i \, \text{clip}(r_i, 1-\epsilon, 1+\epsilon))

    :return: the scalar loss and the zero-gradient mask (the same set PPOG masks)
    """
    ratio = th.exp(log_prob - old_log_prob)
    policy_loss_1 = advantages * ratio
    policy_loss_2 = advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)
    loss = -th.min(policy_loss_1, policy_loss_2).mean()
    with th.no_grad():
        mask = ppo_clip_mask(advantages, ratio, clip_range)
    return loss, mask


def clip_fraction(ratio: th.Tensor, clip_range: float) -> th.Tensor:
    """SB3's ``train/clip_fraction``: the fraction of samples with ``|ratio - 1| > eps``, whichever loss is trained.

    It counts ratios outside the trust region in either direction; :func:`ppo_clip_mask` (``train/masked_fraction``)
    counts only those outside in the direction the advantage pushes, a subset.
    """
    return th.mean((th.abs(ratio - 1) > clip_range).float())


POLICY_LOSSES = {"ppog": ppog_policy_loss, "clip": clip_policy_loss}
