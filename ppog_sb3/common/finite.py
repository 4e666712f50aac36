"""Stop training on NaN or infinite numbers before they reach the weights."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class NonFiniteError(FloatingPointError):
    """Raised when a loss, an advantage or a gradient is NaN or infinite, before it reaches the weights."""


def non_finite_count(array: np.ndarray) -> int:
    return int(np.size(array) - np.count_nonzero(np.isfinite(array)))


def first_non_finite(arrays: Iterable[tuple[str, np.ndarray]]) -> tuple[str, int] | None:
    """``(name, count of non-finite entries)`` of the first float array with any, else None."""
    for name, array in arrays:
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            return name, non_finite_count(array)
    return None


def non_finite_error(where: str, quantity: str, details: str) -> NonFiniteError:
    return NonFiniteError(
        f"{where}: non-finite {quantity} ({details}). "
        "The optimizer step was not taken: the weights are those of the last good step. Likely causes: "
        "rewards or observations too large or NaN (scale or clip them, e.g. VecNormalize), a learning rate "
        "too high, or max_grad_norm too large."
    )
