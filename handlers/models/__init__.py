"""Models: an ONNX graph builder, built-in architectures (random weights), and model resolution.

`onnx` (the graph builder) is imported only when a model file must be built, never on a cold start that
finds the model in its cache: `GraphBuilder` and `count_params` load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from handlers.models.store import ModelRef, builtin_model_file, resolve_model
from handlers.models.zoo import BUILTIN_MODELS, builtin

__all__ = [
    "BUILTIN_MODELS",
    "GraphBuilder",
    "ModelRef",
    "builtin",
    "builtin_model_file",
    "count_params",
    "resolve_model",
]


def __getattr__(name: str) -> Any:
    if name in ("GraphBuilder", "count_params"):
        return getattr(importlib.import_module("handlers.models.graph"), name)
    raise AttributeError(f"module 'handlers.models' has no attribute {name!r}")
