"""Precision and memory layout: whether bfloat16 is native on a device (for ``precision="auto"``), channels-last input.

bf16 autocast pays only where the hardware multiplies bf16 natively: CUDA GPUs of compute capability 8.0 and newer
(Ampere, Hopper, ...), CPUs with AVX512-BF16 or AMX. Elsewhere it is emulated and slower than fp32 (measured on an
AVX2-only CPU: 10x slower). ``torch.cuda.is_bf16_supported()`` is not the test: by default it also says yes where
bf16 is only emulated, and it asks about the *current* CUDA device, not the model's.

The facts are gathered by :func:`has_native_bf16` and decided by :func:`bf16_is_native`, a pure function, so the
decision can be tested with any capabilities injected.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch as th

#: The first CUDA compute capability with native bf16 matrix math (Ampere).
MIN_CUDA_CAPABILITY = (8, 0)


def bf16_is_native(
    device_type: str,
    cuda_capability: tuple[int, int] | None = None,
    cpu_avx512_bf16: bool = False,
    cpu_amx: bool = False,
) -> bool:
    """The decision: bf16 is native on CUDA from compute capability 8.0, on CPUs with AVX512-BF16 or AMX."""
    if device_type == "cuda":
        return cuda_capability is not None and tuple(cuda_capability) >= MIN_CUDA_CAPABILITY
    if device_type == "cpu":
        return bool(cpu_avx512_bf16 or cpu_amx)
    return False


def _cpu_flag(name: str) -> bool:
    probe = getattr(th.cpu, name, None)  # private torch probes; absent in some builds
    return bool(probe()) if callable(probe) else False


def has_native_bf16(
    device: th.device | str,
    cuda_capability: Callable[[th.device], tuple[int, int]] | None = None,
    cpu_flags: Callable[[], tuple[bool, bool]] | None = None,
) -> bool:
    """Whether bfloat16 matrix math is native on ``device`` (so ``precision="bf16"`` is a speed-up).

    :param device: the model's device; ``"cuda"`` without an index means the current CUDA device, as in torch
    :param cuda_capability: ``device -> (major, minor)``; default ``torch.cuda.get_device_capability``
    :param cpu_flags: ``() -> (avx512_bf16, amx)``; default torch's CPU probes
    """
    device = th.device(device)
    if device.type == "cuda":
        if cuda_capability is None:
            if not th.cuda.is_available():
                return False
            cuda_capability = th.cuda.get_device_capability
        return bf16_is_native("cuda", cuda_capability=cuda_capability(device))
    if device.type == "cpu":
        avx512_bf16, amx = (
            cpu_flags()
            if cpu_flags is not None
            else (
                _cpu_flag("_is_avx512_bf16_supported"),
                _cpu_flag("_is_amx_tile_supported"),
            )
        )
        return bf16_is_native("cpu", cpu_avx512_bf16=avx512_bf16, cpu_amx=amx)
    return False


def use_bf16(precision: str, device: th.device) -> bool:
    """Whether ``precision`` ("fp32", "bf16" or "auto") means bf16 autocast on ``device``; warns where bf16 is asked
    for but only emulated."""
    native = has_native_bf16(device)
    if precision == "bf16" and not native:
        warnings.warn(
            f"precision='bf16' on {device} without native bfloat16 support "
            f"(CPU capability {th.backends.cpu.get_cpu_capability()}): bf16 is emulated and much slower than fp32. "
            "Use precision='auto' to pick bf16 only where it is native."
        )
    return precision == "bf16" or (precision == "auto" and native)


def channels_last_input(obs: Any) -> Any:
    """Image batches ``(B, C, H, W)`` (or a dict of them) in channels-last layout, converted while still uint8 (a
    quarter of the bytes of float32; the later float conversion keeps the layout). Minibatches from PPOG's buffer are
    already channels-last views (``PPOGRolloutBuffer(channels_last=True)``), so this is a no-op for them."""
    if isinstance(obs, dict):
        return {key: channels_last_input(value) for key, value in obs.items()}
    return obs.contiguous(memory_format=th.channels_last) if obs.dim() == 4 else obs
