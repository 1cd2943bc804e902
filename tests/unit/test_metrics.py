"""The C-FIND metrics, read back with Prometheus' own text parser."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from vetmwl.web.metrics import ARRIVAL_OUTCOMES, BUCKETS, MPPS_OPERATIONS, MPPS_OUTCOMES, Metrics


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, keyed by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(name, tuple(sorted(labels.items())))]


def test_fresh_metrics_are_zero_and_parse() -> None:
    text = Metrics().render({"version": "0.1.0", "dialect": "sqlite"})
    assert value(text, "vetmwl_cfind_queries_total", status="ok") == 0
    assert value(text, "vetmwl_cfind_duration_seconds_count") == 0
    assert value(text, "vetmwl_cfind_duration_seconds_bucket", le="+Inf") == 0
    assert value(text, "vetmwl_database_errors_total", origin="cfind") == 0
    assert value(text, "vetmwl_info", version="0.1.0", dialect="sqlite") == 1
    types = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert types["vetmwl_cfind_queries"] == "counter"
    assert types["vetmwl_cfind_duration_seconds"] == "histogram"


def test_counters_and_histogram_follow_the_observations() -> None:
    metrics = Metrics()
    metrics.observe_cfind("ok", 0.003, answers=5)
    metrics.observe_cfind("ok", 0.005, answers=2, incomplete=True)  # exactly on a bound: le is inclusive
    metrics.observe_cfind("refused", 0.2)
    metrics.observe_cfind("failed", 30.0)  # beyond the last bound: only +Inf
    metrics.database_error("cfind")
    metrics.database_error("health")
    metrics.database_error("health")
    text = metrics.render()
    assert value(text, "vetmwl_cfind_queries_total", status="ok") == 2
    assert value(text, "vetmwl_cfind_queries_total", status="refused") == 1
    assert value(text, "vetmwl_cfind_queries_total", status="failed") == 1
    assert value(text, "vetmwl_cfind_answers_total") == 7
    assert value(text, "vetmwl_cfind_incomplete_total") == 1
    assert value(text, "vetmwl_database_errors_total", origin="cfind") == 1
    assert value(text, "vetmwl_database_errors_total", origin="health") == 2
    assert value(text, "vetmwl_database_errors_total", origin="rest") == 0
    buckets = {b: value(text, "vetmwl_cfind_duration_seconds_bucket", le=repr(b)) for b in BUCKETS}
    assert buckets[0.005] == 2
    assert buckets[0.1] == 2
    assert buckets[0.25] == 3
    assert buckets[10.0] == 3
    assert value(text, "vetmwl_cfind_duration_seconds_bucket", le="+Inf") == 4
    assert value(text, "vetmwl_cfind_duration_seconds_count") == 4
    assert value(text, "vetmwl_cfind_duration_seconds_sum") == pytest.approx(30.208)
    assert "vetmwl_info" not in text


def test_label_values_are_escaped() -> None:
    text = Metrics().render({"version": 'a"b\\c\nd', "dialect": "sqlite"})
    assert value(text, "vetmwl_info", version='a"b\\c\nd', dialect="sqlite") == 1


def test_unknown_status_or_origin_is_a_bug() -> None:
    with pytest.raises(KeyError):
        Metrics().observe_cfind("maybe", 0.1)
    with pytest.raises(KeyError):
        Metrics().database_error("elsewhere")
    with pytest.raises(KeyError):
        Metrics().mpps_message("N-GET", "ok")
    with pytest.raises(KeyError):
        Metrics().mpps_message("N-SET", "maybe")
    with pytest.raises(KeyError):
        Metrics().study_arrival("late")


def test_mpps_and_arrival_counters_start_at_zero_in_every_series() -> None:
    text = Metrics().render()
    for operation in MPPS_OPERATIONS:
        for outcome in MPPS_OUTCOMES:
            assert value(text, "vetmwl_mpps_messages_total", operation=operation, outcome=outcome) == 0
    for outcome in ARRIVAL_OUTCOMES:
        assert value(text, "vetmwl_study_arrivals_total", outcome=outcome) == 0
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["vetmwl_mpps_messages"].type == "counter"
    assert families["vetmwl_study_arrivals"].type == "counter"
    assert "# HELP vetmwl_mpps_messages_total MPPS messages" in text
    assert "# TYPE vetmwl_study_arrivals_total counter" in text
    assert len(families["vetmwl_mpps_messages"].samples) == 12
    assert len(families["vetmwl_study_arrivals"].samples) == len(ARRIVAL_OUTCOMES) == 4


def test_mpps_and_arrival_counters_follow_the_calls() -> None:
    metrics = Metrics()
    metrics.mpps_message("N-CREATE", "ok")
    metrics.mpps_message("N-CREATE", "ok")
    metrics.mpps_message("N-SET", "refused")
    metrics.mpps_message("C-ECHO", "ok")
    metrics.mpps_message("N-SET", "failed")
    metrics.study_arrival("new")
    metrics.study_arrival("again")
    metrics.study_arrival("again")
    metrics.study_arrival("failed")
    text = metrics.render()
    assert value(text, "vetmwl_mpps_messages_total", operation="N-CREATE", outcome="ok") == 2
    assert value(text, "vetmwl_mpps_messages_total", operation="N-CREATE", outcome="refused") == 0
    assert value(text, "vetmwl_mpps_messages_total", operation="N-SET", outcome="refused") == 1
    assert value(text, "vetmwl_mpps_messages_total", operation="N-SET", outcome="failed") == 1
    assert value(text, "vetmwl_mpps_messages_total", operation="C-ECHO", outcome="ok") == 1
    assert value(text, "vetmwl_study_arrivals_total", outcome="new") == 1
    assert value(text, "vetmwl_study_arrivals_total", outcome="again") == 2
    assert value(text, "vetmwl_study_arrivals_total", outcome="failed") == 1
    assert metrics.snapshot().mpps_messages[("N-CREATE", "ok")] == 2
    # The C-FIND counters are not touched.
    assert value(text, "vetmwl_cfind_queries_total", status="ok") == 0
