"""The built-in architectures: name -> builder, input spec and published parameter count."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from handlers.imaging import InputSpec

if TYPE_CHECKING:
    import onnx

GRAPH_VERSION = 1  # bump when a builder changes, so cached files are rebuilt


@dataclass(frozen=True, slots=True)
class BuiltinModel:
    name: str
    builder: str  # "module:function", imported only when a file must be built: onnx stays off the cold path
    input_spec: InputSpec
    published_params: int  # torchvision's count (with BatchNorm; ours folds BN into conv bias)

    def build(self, seed: int) -> onnx.ModelProto:
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)(seed)


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    m.name: m
    for m in (
        BuiltinModel("resnet50", "handlers.models.resnet:build_resnet50", InputSpec.for_size(224), 25_557_032),
        BuiltinModel("mobilenetv2", "handlers.models.mobilenet:build_mobilenetv2", InputSpec.for_size(224), 3_504_872),
        BuiltinModel("inceptionv3", "handlers.models.inception:build_inceptionv3", InputSpec.for_size(299), 23_834_568),
        BuiltinModel("smallcnn", "handlers.models.smallcnn:build_smallcnn", InputSpec.for_size(224), 0),
    )
}


def builtin(name: str) -> BuiltinModel:
    """The built-in model of that name (case-insensitive, '-'/'_' ignored)."""
    key = name.lower().replace("-", "").replace("_", "")
    if key not in BUILTIN_MODELS:
        known = ", ".join(sorted(BUILTIN_MODELS))
        raise KeyError(f"unknown built-in model {name!r}; known: {known}")
    return BUILTIN_MODELS[key]
