"""Choosing forecast settings on the Ray cluster: a quick baseline search and the full Tune run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ray
from ray import tune

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

SEARCH_SPACE = {
    "hidden": tune.choice([16, 32, 64, 128]),
    "dropout": tune.uniform(0.0, 0.3),
    "lr": tune.loguniform(1e-4, 1e-1),
}


def mape(actual: Sequence[float], forecast: Sequence[float]) -> float:
    """Mean absolute percentage error, in percent, over the points whose actual value is not zero."""
    if len(actual) != len(forecast):
        raise ValueError("actual and forecast differ in length")
    errors = [abs(a - f) / abs(a) for a, f in zip(actual, forecast, strict=True) if a != 0]
    if not errors:
        raise ValueError("no non-zero actual values")
    return 100 * sum(errors) / len(errors)


@ray.remote
def score_window(series: Sequence[float], window: int) -> float:
    """MAPE of forecasting each point as the mean of the `window` points before it."""
    forecasts = [sum(series[i - window : i]) / window for i in range(window, len(series))]
    return mape(series[window:], forecasts)


def best_window(series: Sequence[float], windows: Sequence[int]) -> int:
    """Score every moving-average window in parallel on the cluster and return the best one."""
    if not windows or max(windows) >= len(series):
        raise ValueError("every window must be shorter than the series")
    scores = ray.get([score_window.remote(series, window) for window in windows])
    return min(zip(scores, windows, strict=True))[1]


def build_tuner(trainable: Callable[[dict[str, Any]], Any], num_samples: int = 32) -> tune.Tuner:
    """Set up the Tune run that trains `Net` with each sampled configuration and keeps the lowest validation MAPE."""
    return tune.Tuner(
        trainable,
        param_space=SEARCH_SPACE,
        tune_config=tune.TuneConfig(metric="mape", mode="min", num_samples=num_samples),
    )
