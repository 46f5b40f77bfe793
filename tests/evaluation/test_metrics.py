"""The metric definitions, on cases small enough to compute by hand."""

from datetime import date

import pytest

from authpulse_dagster.evaluation.metrics import (
    alerts_per_day_per_1k_users,
    average_precision,
    detection,
    precision_of_alerted,
)

D = [date(2024, 1, d) for d in range(1, 32)]


def test_average_precision_perfect_ranking_is_one():
    assert average_precision([0.9, 0.8, 0.1, 0.0], [True, True, False, False]) == 1.0


def test_average_precision_interleaved():
    # Ranked: P N P N. Recall steps at ranks 1 and 3: 1/2 * 1/1 + 1/2 * 2/3 = 5/6.
    assert average_precision([0.9, 0.8, 0.7, 0.6], [True, False, True, False]) == pytest.approx(5 / 6)


def test_average_precision_worst_ranking():
    # Ranked: N N P. One step: 1 * 1/3.
    assert average_precision([3, 2, 1], [False, False, True]) == pytest.approx(1 / 3)


def test_average_precision_ties_enter_together():
    # Both at 0.5: one threshold with precision 1/2, recall 1 -> 0.5, whatever the input order.
    assert average_precision([0.5, 0.5], [True, False]) == pytest.approx(0.5)
    assert average_precision([0.5, 0.5], [False, True]) == pytest.approx(0.5)
    # 0.9 (P), then a tie at 0.4 of (P, N, N): 1/2 * 1 + 1/2 * 2/4 = 0.75.
    assert average_precision([0.4, 0.9, 0.4, 0.4], [False, True, True, False]) == pytest.approx(0.75)


def test_average_precision_input_order_does_not_matter():
    scores = [0.1, 0.7, 0.3, 0.9, 0.5]
    labels = [False, True, False, False, True]
    # Ranked: 0.9 N, 0.7 P, 0.5 P, 0.3 N, 0.1 N: 1/2 * 1/2 + 1/2 * 2/3 = 7/12.
    assert average_precision(scores, labels) == pytest.approx(7 / 12)
    assert average_precision(scores[::-1], labels[::-1]) == pytest.approx(7 / 12)


def test_average_precision_no_positive_is_undefined():
    assert average_precision([0.1, 0.2], [False, False]) is None
    assert average_precision([], []) is None


def test_average_precision_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        average_precision([0.1, 0.2], [True])


def test_detection_window_is_first_to_last_plus_one_day():
    attacked = {"U1": (D[9], D[9]), "U2": (D[9], D[11]), "U3": (D[9], D[9]), "U4": (D[9], D[9])}
    alerts = [
        ("U1", D[10]),  # day after the only labelled day: detected, delay 1
        ("U2", D[11]),  # last labelled day: detected, delay 2
        ("U2", D[12]),  # a later one does not change the delay
        ("U3", D[8]),  # before the attack: does not count
        ("U3", D[11]),  # two days after: too late
        ("U9", D[9]),  # not attacked
    ]
    found = detection(attacked, alerts)
    assert found.detected == {"U1", "U2"}
    assert found.delays_days == {"U1": 1, "U2": 2}
    assert found.recall == 0.5
    assert found.mean_delay_days == 1.5


def test_detection_takes_the_earliest_alert_in_the_window():
    found = detection({"U1": (D[3], D[7])}, [("U1", D[6]), ("U1", D[4])])
    assert found.delays_days == {"U1": 1}


def test_detection_with_nobody_attacked():
    found = detection({}, [("U1", D[1])])
    assert found.recall is None and found.mean_delay_days is None and found.attacked == 0


def test_precision_of_alerted_users():
    assert precision_of_alerted({"U1", "U2", "U3"}, ["U1", "U2", "U7", "U8", "U1"]) == 0.5
    assert precision_of_alerted({"U1"}, []) is None
    assert precision_of_alerted(set(), ["U1"]) == 0.0


def test_alerts_per_day_per_1k_users():
    assert alerts_per_day_per_1k_users(70, 14, 1000) == pytest.approx(5.0)
    assert alerts_per_day_per_1k_users(3, 2, 500) == pytest.approx(3.0)
    assert alerts_per_day_per_1k_users(0, 1, 1) == 0.0
    with pytest.raises(ValueError):
        alerts_per_day_per_1k_users(1, 0, 10)
