"""Which engine holds a consumer group, as a worker reads the group's description."""

from __future__ import annotations

from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import ConsumerGroupDescription, MemberAssignment, MemberDescription

from streams.worker.group import FAUST_ASSIGNOR, other_engine_holds


def group(assignor: str, members: int = 1) -> ConsumerGroupDescription:
    state = ConsumerGroupState.STABLE if assignor else ConsumerGroupState.PREPARING_REBALANCING
    people = [
        MemberDescription(f"m{i}", f"c{i}", "host", MemberAssignment([])) for i in range(members)
    ]
    return ConsumerGroupDescription("g", False, people, assignor, state, None)


def test_a_stable_group_of_the_other_engine_is_a_conflict() -> None:
    assert other_engine_holds(group(FAUST_ASSIGNOR), "librdkafka")
    assert other_engine_holds(group("range"), "faust")


def test_a_stable_group_of_the_same_engine_is_not() -> None:
    assert not other_engine_holds(group(FAUST_ASSIGNOR), "faust")
    assert not other_engine_holds(group("range"), "librdkafka")


def test_a_group_mid_rebalance_or_empty_decides_nothing() -> None:
    # Members listed, no assignor chosen yet: a Faust worker joining a Faust group while it
    # rebalances once read this as "held by librdkafka" and refused to start.
    for engine in ("faust", "librdkafka"):
        assert not other_engine_holds(group(""), engine)
        assert not other_engine_holds(group(FAUST_ASSIGNOR, members=0), engine)
