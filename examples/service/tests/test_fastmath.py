import pytest
from src.ml.fastmath import ewma, rolling_sum


def test_ewma_mixes_each_value_with_the_last_output():
    assert ewma([10.0, 20.0, 20.0], 0.5) == [10.0, 15.0, 17.5]
    assert ewma([1.0, 5.0], 1.0) == [1.0, 5.0]  # alpha 1: no smoothing
    with pytest.raises(ValueError, match="alpha"):
        ewma([1.0], 0.0)


def test_rolling_sum_counts_full_windows_only():
    assert rolling_sum([1.0, 2.0, 3.0, 4.0], 3) == [6.0, 9.0]
    assert rolling_sum([1.0, 2.0], 3) == []
    assert rolling_sum([5.0, -5.0], 1) == [5.0, -5.0]
    with pytest.raises(ValueError, match="at least 1"):
        rolling_sum([1.0], 0)
