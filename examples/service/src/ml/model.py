"""The forecasting network and the feature preparation around it (plain Python, shared with serving)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

FEATURES = ("hour_sin", "hour_cos", "weekend", "active_accounts", "requests_last_hour")


def standardize(values: Sequence[float]) -> tuple[list[float], float, float]:
    """Return the z-scores of `values` with their mean and (population) standard deviation."""
    if not values:
        raise ValueError("cannot standardize an empty series")
    mean = sum(values) / len(values)
    std = math.sqrt(sum((value - mean) ** 2 for value in values) / len(values))
    if std == 0:
        return [0.0] * len(values), mean, 0.0
    return [(value - mean) / std for value in values], mean, std


def min_max_scale(values: Sequence[float], low: float = 0.0, high: float = 1.0) -> list[float]:
    """Map `values` linearly onto [`low`, `high`]; a constant series maps to `low`."""
    if high <= low:
        raise ValueError("high must be greater than low")
    smallest, largest = min(values), max(values)
    if largest == smallest:
        return [low] * len(values)
    return [low + (value - smallest) * (high - low) / (largest - smallest) for value in values]


def encode_hour(hour: int) -> tuple[float, float]:
    """Encode an hour of the day on the unit circle, so that 23:00 is next to 00:00."""
    if not 0 <= hour < 24:
        raise ValueError(f"hour must be in 0..23, got {hour}")
    angle = 2 * math.pi * hour / 24
    return math.sin(angle), math.cos(angle)


def feature_vector(row: Mapping[str, float]) -> list[float]:
    """Turn one observation (``hour``, ``weekday``, ``active_accounts``, ``requests_last_hour``) into `FEATURES`."""
    hour_sin, hour_cos = encode_hour(int(row["hour"]))
    weekend = 1.0 if int(row["weekday"]) >= 5 else 0.0
    return [hour_sin, hour_cos, weekend, math.log1p(row["active_accounts"]), math.log1p(row["requests_last_hour"])]


class Net(nn.Module):
    """A small MLP from `FEATURES` to the log of next hour's request count."""

    def __init__(self, hidden: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(len(FEATURES), hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Return one prediction per row of `batch`."""
        return self.layers(batch).squeeze(-1)


def parameter_count(model: nn.Module) -> int:
    """Count the trainable parameters of `model`."""
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)


def predict(model: Net, rows: Sequence[Mapping[str, float]]) -> list[float]:
    """Predict log request counts for `rows`, without tracking gradients."""
    model.eval()
    with torch.no_grad():
        batch = torch.tensor([feature_vector(row) for row in rows], dtype=torch.float32)
        return model(batch).tolist()
