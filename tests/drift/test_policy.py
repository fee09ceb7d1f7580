"""Retraining requests: k alerting windows of the last m, a cooldown, stable request ids."""

from __future__ import annotations

import pickle
import uuid

import pytest

from drift.policy import PolicyConfig, RetrainingPolicy, Trigger, request_id

BIG = 5000  # events of a window the policy counts


def _policy(**overrides: float) -> RetrainingPolicy:
    settings: dict[str, float] = {"k": 2, "m": 3, "cooldown_s": 600.0, "min_samples": 1000}
    return RetrainingPolicy(PolicyConfig(**{**settings, **overrides}))


def test_k_of_the_last_m_windows_trigger_with_all_their_alerts() -> None:
    policy = _policy()
    assert policy.observe(0, BIG, ["a"], now_s=0) is None
    assert policy.observe(1, BIG, [], now_s=1) is None
    assert policy.observe(2, BIG, ["b", "c"], now_s=2) == Trigger(("a", "b", "c"), (0, 2))


def test_alerts_that_slid_out_of_the_last_m_windows_do_not_count() -> None:
    policy = _policy()
    policy.observe(0, BIG, ["a"], now_s=0)
    policy.observe(1, BIG, [], now_s=1)
    policy.observe(2, BIG, [], now_s=2)
    assert policy.observe(3, BIG, ["b"], now_s=3) is None
    assert policy.observe(4, BIG, ["c"], now_s=4) == Trigger(("b", "c"), (3, 4))


def test_small_windows_are_neither_alerting_nor_quiet() -> None:
    policy = _policy()
    policy.observe(0, BIG, ["a"], now_s=0)
    for start in (1, 2, 3):
        assert policy.observe(start, 999, ["noise"], now_s=start) is None
    assert policy.observe(4, BIG, [], now_s=4) is None  # windows 0, 4: "a" is still in view
    assert policy.observe(5, BIG, ["b"], now_s=5) == Trigger(("a", "b"), (0, 5))


def test_old_and_repeated_windows_are_ignored() -> None:
    policy = _policy()
    policy.observe(10, BIG, ["a"], now_s=0)
    assert policy.observe(10, BIG, ["a"], now_s=1) is None  # a replay
    assert policy.observe(5, BIG, ["late"], now_s=2) is None
    assert policy.observe(11, BIG, ["b"], now_s=3) == Trigger(("a", "b"), (10, 11))


def test_cooldown_holds_the_next_trigger_and_the_same_evidence_never_fires_twice() -> None:
    policy = _policy(cooldown_s=100)
    policy.observe(0, BIG, ["a"], now_s=0)
    assert policy.observe(1, BIG, ["b"], now_s=1) is not None
    assert policy.observe(2, BIG, ["c"], now_s=2) is None  # one alerting window since
    assert policy.observe(3, BIG, ["d"], now_s=50) is None  # two, but cooling down
    assert policy.observe(4, BIG, [], now_s=101) == Trigger(("c", "d"), (2, 3))
    assert policy.observe(5, BIG, [], now_s=500) is None


def test_a_restored_policy_behaves_as_the_original() -> None:
    original = _policy()
    original.observe(0, BIG, ["a"], now_s=0)
    restored = pickle.loads(pickle.dumps(original))
    steps = [(1, BIG, [], 1.0), (2, BIG, ["b"], 2.0), (3, BIG, ["c"], 3.0), (4, BIG, ["d"], 900.0)]
    assert [restored.observe(*s) for s in steps] == [original.observe(*s) for s in steps]


def test_request_ids_are_stable_uuids_per_model_version_and_window() -> None:
    rid = request_id("fraud", "3", 1_700_000_000_000)
    assert uuid.UUID(rid).version == 5
    assert rid == request_id("fraud", "3", 1_700_000_000_000)
    others = {request_id("fraud", "4", 1_700_000_000_000), request_id("fraud", "3", 1)}
    assert rid not in others and len(others) == 2
    assert request_id("a", "bc", 1) != request_id("ab", "c", 1)


def test_config_is_validated_and_read_from_its_variables() -> None:
    assert PolicyConfig.env_names()["cooldown_s"] == "STREAMSCORE_DRIFT_POLICY_COOLDOWN_S"
    assert all(field.description for field in PolicyConfig.model_fields.values())
    with pytest.raises(ValueError):
        PolicyConfig(k=4, m=3)
    with pytest.raises(ValueError):
        PolicyConfig(k=0)
