"""Hot loops of the forecasting pipeline, compiled by numba in production."""

from __future__ import annotations

import numba


@numba.njit(cache=True)
def ewma(values: list[float], alpha: float) -> list[float]:
    """Exponentially weighted moving average: each output mixes `alpha` of the new value with the last output."""
    if not 0 < alpha <= 1:
        raise ValueError("alpha must be in (0, 1]")
    smoothed = []
    last = 0.0
    for index, value in enumerate(values):
        last = value if index == 0 else alpha * value + (1 - alpha) * last
        smoothed.append(last)
    return smoothed


@numba.njit
def rolling_sum(values: list[float], window: int) -> list[float]:
    """Sum of each full window of `window` consecutive values."""
    if window < 1:
        raise ValueError("window must be at least 1")
    sums = []
    total = 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        if index >= window - 1:
            sums.append(total)
    return sums
