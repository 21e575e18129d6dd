"""Models: an ONNX graph builder, built-in architectures (random weights), and model resolution."""

from handlers.models.graph import GraphBuilder, count_params
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
