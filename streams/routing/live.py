"""The routing a worker scores with: the value in Redis, turned into Triton models, kept current.

:meth:`LiveRouting.refresh` re-reads the value every ``refresh_s``; :attr:`LiveRouting.models`
is swapped in one assignment, so a batch that took a snapshot keeps a consistent pair of
primary and shadows. When Redis cannot be read the last known routing stays in force (the
feature-store fault path must not change which model scores).

With no routing stored, the first worker to start chooses the project's first model's
newest ready version and stores that choice (SET NX): from then on only `models promote`,
`models rollback` and the guard change the primary, never a new version appearing.
"""

from __future__ import annotations

import logging
from typing import ClassVar

import redis
import redis.asyncio as aioredis
import tritonclient.grpc.aio as grpcaio
from pydantic import Field
from tritonclient.utils import InferenceServerException

from inference.contract import tensors_of
from inference.errors import InferenceError, ModelUnavailableError
from inference.triton_client import TritonConfig, TritonModel
from infra.config import Section
from schemas.project import Project
from streams.routing import state
from streams.routing.catalog import newest_ready
from streams.routing.state import ModelRef, RoutedModels, Routing

log = logging.getLogger(__name__)


class RoutingConfig(Section):
    """How a worker finds its models."""

    env_prefix: ClassVar[str] = "ROUTING_"

    refresh_s: float = Field(1.0, gt=0, description="How often routing is re-read.")


async def newest_ready_version(client: grpcaio.InferenceServerClient, name: str) -> str:
    try:
        index = await client.get_model_repository_index()
    except InferenceServerException as exc:
        raise ModelUnavailableError(name, f"Triton repository index: {exc}") from exc
    newest = newest_ready([(m.name, m.version, m.state) for m in index.models], name)
    if newest is None:
        raise ModelUnavailableError(name, "no version of it is ready on Triton")
    return newest


class LiveRouting:
    """One TritonModel per routed model version, all on one gRPC channel."""

    def __init__(
        self,
        client: grpcaio.InferenceServerClient,
        store: aioredis.Redis,
        triton: TritonConfig,
        config: RoutingConfig,
        project: Project,
    ) -> None:
        self.client = client
        self.store = store
        self.triton = triton
        self.config = config
        self.project = project
        self.key = state.routing_key(project.name)
        self._models: dict[ModelRef, TritonModel] = {}
        self.routing: Routing | None = None
        self._current: RoutedModels | None = None

    @property
    def models(self) -> RoutedModels:
        """The models to score the next batch with (take it once per batch)."""
        if self._current is None:
            raise RuntimeError("LiveRouting.start() has not run")
        return self._current

    def _model(self, ref: ModelRef) -> TritonModel:
        model = self._models.get(ref)
        if model is None:
            tensors = tensors_of(self.project, ref.name)
            model = TritonModel(self.client, ref.name, ref.version, self.triton, tensors)
            self._models[ref] = model
        return model

    async def start(self) -> RoutedModels:
        """Routing from Redis, or else the newest ready version of the project's first
        model, stored as the choice (a value another worker stored first wins)."""
        current = await self._read()
        if current is None:
            name = self.project.default_model.name
            chosen = Routing(ModelRef(name, await newest_ready_version(self.client, name)))
            await self.store.set(self.key, chosen.to_json(), nx=True)
            current = await self._read() or chosen
        self._apply(current)
        return self.models

    async def check(self) -> list[str]:
        """Why any routed model's tensors on Triton do not fit the project (one line each;
        empty when all fit). InferenceError when Triton cannot describe the primary; a
        shadow or canary it cannot describe (not loaded, not there) is left out: it never
        holds the primary back, and is counted missing when it does not score."""
        models = self.models
        routed = [models.primary, *models.shadows]
        if models.canary is not None:
            routed.append(models.canary)
        problems = []
        for model in dict.fromkeys(routed):
            if not isinstance(model, TritonModel):
                continue
            try:
                problem = await model.check()
            except InferenceError as exc:
                if model is models.primary:
                    raise
                log.warning("%s not checked: %s", model.label, exc)
                continue
            if problem is not None:
                problems.append(problem)
        return problems

    async def refresh(self) -> bool:
        """Re-read the routing; True when it changed."""
        current = await self._read()
        if current is None or current == self.routing:
            return False
        self._apply(current)
        log.info("routing changed: %s", current.describe())
        return True

    def _apply(self, current: Routing) -> None:
        primary = self._model(current.primary)
        shadows = tuple(self._model(ref) for ref in current.shadows)
        canary = current.canary
        if canary is None:
            self._current = RoutedModels(primary, shadows)
        else:
            model = self._model(canary.model)
            self._current = RoutedModels(primary, shadows, model, canary.percent)
        self.routing = current

    async def _read(self) -> Routing | None:
        try:
            return await state.read(self.store, self.key)
        except (redis.RedisError, OSError) as exc:
            log.warning("routing not refreshed, Redis unreachable: %s", exc)
            return self.routing
        except state.RoutingError as exc:
            log.error("routing value ignored: %s", exc)
            return self.routing
