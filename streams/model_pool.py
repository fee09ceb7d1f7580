"""Turns the routing value into live Triton models and keeps the pipeline's router current."""

from __future__ import annotations

import logging

import redis
import redis.asyncio as aioredis
import tritonclient.grpc.aio as grpcaio
from tritonclient.utils import InferenceServerException

from inference.errors import ModelUnavailableError
from inference.model import Model
from inference.triton_model import TritonConfig, TritonModel
from streams import routing
from streams.pipeline import Router
from streams.routing import ModelRef, Routing

log = logging.getLogger(__name__)


async def newest_ready_version(client: grpcaio.InferenceServerClient, name: str) -> str:
    try:
        index = await client.get_model_repository_index()
    except InferenceServerException as exc:
        raise ModelUnavailableError(name, f"Triton repository index: {exc}") from exc
    ready = [int(m.version) for m in index.models if m.name == name and m.state == "READY"]
    if not ready:
        raise ModelUnavailableError(name, "no version of it is ready on Triton")
    return str(max(ready))


class ModelPool:
    """One TritonModel per routed model version, all on one gRPC channel."""

    def __init__(
        self,
        client: grpcaio.InferenceServerClient,
        store: aioredis.Redis,
        config: TritonConfig,
        default_model: str,
    ) -> None:
        self.client = client
        self.store = store
        self.config = config
        self.default_model = default_model
        self.models: dict[ModelRef, TritonModel] = {}
        self.routing: Routing | None = None
        self.router: Router | None = None

    def _model(self, ref: ModelRef) -> TritonModel:
        model = self.models.get(ref)
        if model is None:
            model = self.models[ref] = TritonModel(self.client, ref.name, ref.version, self.config)
        return model

    async def start(self) -> Router:
        """Routing from Redis, or else the newest ready version of the default model."""
        current = await self._read()
        if current is None:
            version = await newest_ready_version(self.client, self.default_model)
            current = Routing(ModelRef(self.default_model, version))
            # First worker to start records the default, so `models list` can show it.
            await self.store.set(routing.ROUTING_KEY, current.to_json(), nx=True)
        self.router = Router(self._model(current.primary))
        self._apply(current)
        return self.router

    async def refresh(self) -> bool:
        """Re-read the routing; True when it changed."""
        current = await self._read()
        if current is None or current == self.routing:
            return False
        self._apply(current)
        log.info("routing changed: primary %s, shadows %s", current.primary, current.shadows)
        return True

    def _apply(self, current: Routing) -> None:
        assert self.router is not None
        primary = self._model(current.primary)
        shadows: list[Model] = [self._model(ref) for ref in current.shadows]
        # Both fields in one step between two awaits: a batch sees the old or the new pair.
        self.router.primary, self.router.shadows = primary, shadows
        self.routing = current

    async def _read(self) -> Routing | None:
        try:
            return await routing.read(self.store)
        except (redis.RedisError, OSError) as exc:
            log.warning("routing not refreshed, Redis unreachable: %s", exc)
            return self.routing
        except routing.RoutingError as exc:
            log.error("routing value ignored: %s", exc)
            return self.routing
