"""LiveRouting's start-up check of the routed models' tensors, over a fake Triton and Redis:
a misfit is a problem named in one line, the primary not answering is an error (the worker
waits for it), a shadow or canary Triton cannot describe is left to the scoring path (it is
counted missing there), never a reason not to score."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from tritonclient.utils import InferenceServerException

from inference.errors import InferenceError
from inference.triton_client import TritonConfig
from streams.routing import ModelRef, Routing
from streams.routing.live import LiveRouting, RoutingConfig
from streams.routing.state import Canary, routing_key
from tests.support.projects import FRAUD

WIDTH = FRAUD.layout.width


def metadata(width: int = WIDTH, input_name: str = "features") -> Any:
    return SimpleNamespace(
        inputs=[SimpleNamespace(name=input_name, shape=[-1, width])],
        outputs=[SimpleNamespace(name="score", shape=[-1, 1])],
    )


class FakeTriton:
    """``get_model_metadata`` from a dict of name → metadata; absent names are unknown."""

    def __init__(self, models: dict[str, Any]) -> None:
        self.models = models
        self.asked: list[str] = []

    async def get_model_metadata(self, name: str, version: str, client_timeout: float) -> Any:
        self.asked.append(f"{name}:{version}")
        if name not in self.models:
            raise InferenceServerException(f"Request for unknown model: '{name}' is not found")
        return self.models[name]


class FakeRedis:
    def __init__(self, routing: Routing) -> None:
        self.data = {routing_key(FRAUD.name): routing.to_json().encode()}

    async def get(self, key: str) -> bytes | None:
        return self.data.get(key)


def check(routing: Routing, triton: FakeTriton) -> list[str]:
    live = LiveRouting(
        triton,  # type: ignore[arg-type]
        FakeRedis(routing),  # type: ignore[arg-type]
        TritonConfig(),
        RoutingConfig(),
        FRAUD,
    )

    async def main() -> list[str]:
        await live.start()
        return await live.check()

    return asyncio.run(main())


PRIMARY = ModelRef("scorer", "1")


def test_models_that_fit_give_no_problem_and_each_is_asked_once() -> None:
    triton = FakeTriton({"scorer": metadata(), "challenger": metadata()})
    routing = Routing(
        PRIMARY, (ModelRef("challenger", "1"),), Canary(ModelRef("challenger", "1"), 10)
    )
    assert check(routing, triton) == []
    assert triton.asked == ["scorer:1", "challenger:1"]


def test_a_misfit_is_a_problem_naming_both_shapes() -> None:
    triton = FakeTriton({"scorer": metadata(), "narrow": metadata(WIDTH - 2)})
    (problem,) = check(Routing(PRIMARY, (ModelRef("narrow", "1"),)), triton)
    assert "narrow:1" in problem and f"[-1, {WIDTH - 2}]" in problem and f"{WIDTH}]" in problem


def test_the_primary_not_on_triton_is_an_error_to_wait_on() -> None:
    with pytest.raises(InferenceError, match="scorer:1"):
        check(Routing(PRIMARY), FakeTriton({}))


def test_a_shadow_or_canary_not_on_triton_does_not_hold_the_primary_back() -> None:
    triton = FakeTriton({"scorer": metadata()})
    absent, gone = ModelRef("no-such-model", "7"), ModelRef("gone", "2")
    assert check(Routing(PRIMARY, (absent,), Canary(gone, 10)), triton) == []
    assert triton.asked == ["scorer:1", "no-such-model:7", "gone:2"]
