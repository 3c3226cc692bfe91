import pytest
import ray
from src.ml.tuning import best_window, mape, score_window

# Hourly requests over two days: a daily cycle plus a slow trend.
SERIES = [100 + 2 * hour + (40 if 8 <= hour % 24 <= 18 else 0) for hour in range(48)]


def test_mape_ignores_zero_actuals_and_checks_lengths():
    assert mape([100.0, 200.0, 0.0], [110.0, 150.0, 5.0]) == pytest.approx(17.5)
    with pytest.raises(ValueError, match="length"):
        mape([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="non-zero"):
        mape([0.0], [1.0])


@pytest.mark.slow
def test_best_window_scores_each_window_and_picks_the_lowest_error():
    windows = [1, 3, 6, 12]
    assert best_window(SERIES, windows) == 1  # a trending series: the last value is the best guess
    constant = [50.0] * 10 + [80.0] * 10
    assert best_window(constant, [2, 5]) == 2
    with pytest.raises(ValueError, match="shorter than the series"):
        best_window(SERIES, [48])


def test_a_window_is_scored_on_the_points_after_it():
    # Forecasts 100 -> 110 and 110 -> 121: both 1/11 off.
    assert ray.get(score_window.remote([100.0, 110.0, 121.0], 1)) == pytest.approx(100 / 11)
