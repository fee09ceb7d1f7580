"""Model routing: which version is primary and which are shadows, read live by every worker.

state.py holds the value (stored in Redis) and its changes; live.py turns it into models
and keeps them current inside a worker.
"""

from streams.routing.state import ModelRef, RoutedModels, Routing, RoutingError

__all__ = ["ModelRef", "RoutedModels", "Routing", "RoutingError"]
