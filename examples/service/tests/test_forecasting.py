import math

import pytest
import torch
from src.ml.model import (
    FEATURES,
    Net,
    encode_hour,
    feature_vector,
    min_max_scale,
    parameter_count,
    predict,
    standardize,
)

ROWS = [
    {"hour": 9, "weekday": 1, "active_accounts": 1_200, "requests_last_hour": 48_000},
    {"hour": 23, "weekday": 6, "active_accounts": 1_150, "requests_last_hour": 9_000},
]


def test_standardize_returns_z_scores_and_the_parameters_to_undo_them():
    scores, mean, std = standardize([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
    assert (mean, std) == (5.0, 2.0)
    assert scores[0] == -1.5
    assert [mean + std * score for score in scores] == [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
    assert standardize([3.0, 3.0]) == ([0.0, 0.0], 3.0, 0.0)
    with pytest.raises(ValueError, match="empty"):
        standardize([])


def test_min_max_scale_maps_onto_the_requested_range():
    assert min_max_scale([10.0, 15.0, 20.0]) == [0.0, 0.5, 1.0]
    assert min_max_scale([10.0, 15.0, 20.0], -1.0, 1.0) == [-1.0, 0.0, 1.0]
    assert min_max_scale([7.0, 7.0], 2.0, 3.0) == [2.0, 2.0]
    with pytest.raises(ValueError, match="greater than low"):
        min_max_scale([1.0, 2.0], 1.0, 1.0)


def test_hour_encoding_puts_midnight_next_to_eleven_pm():
    def distance(a, b):
        return math.dist(encode_hour(a), encode_hour(b))

    assert distance(23, 0) == pytest.approx(distance(0, 1))
    assert distance(23, 0) < distance(22, 0) < distance(12, 0)
    vector = feature_vector(ROWS[1])
    assert len(vector) == len(FEATURES)
    assert vector[2] == 1.0  # Sunday is a weekend day
    assert vector[4] == pytest.approx(math.log1p(9_000))
    with pytest.raises(ValueError, match=r"0\.\.23"):
        encode_hour(24)


def test_net_predicts_one_value_per_row():
    torch.manual_seed(0)
    predictions = predict(Net(hidden=8), ROWS)
    assert len(predictions) == len(ROWS)
    assert all(math.isfinite(value) for value in predictions)


def test_net_parameter_count_matches_its_layers():
    inputs, hidden = len(FEATURES), 16
    assert parameter_count(Net(hidden=hidden)) == (inputs * hidden + hidden) + (hidden + 1)


def test_net_forward_keeps_the_batch_dimension():
    output = Net()(torch.zeros(4, len(FEATURES)))
    assert tuple(output.shape) == (4,)
