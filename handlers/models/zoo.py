"""The built-in architectures: name -> builder, input spec and published parameter count."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import onnx

from handlers.imaging import InputSpec
from handlers.models.inception import build_inceptionv3
from handlers.models.mobilenet import build_mobilenetv2
from handlers.models.resnet import build_resnet50
from handlers.models.smallcnn import build_smallcnn

GRAPH_VERSION = 1  # bump when a builder changes, so cached files are rebuilt


@dataclass(frozen=True, slots=True)
class BuiltinModel:
    name: str
    build: Callable[[int], onnx.ModelProto]
    input_spec: InputSpec
    published_params: int  # torchvision's count (with BatchNorm; ours folds BN into conv bias)


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    m.name: m
    for m in (
        BuiltinModel("resnet50", build_resnet50, InputSpec.for_size(224), 25_557_032),
        BuiltinModel("mobilenetv2", build_mobilenetv2, InputSpec.for_size(224), 3_504_872),
        BuiltinModel("inceptionv3", build_inceptionv3, InputSpec.for_size(299), 23_834_568),
        BuiltinModel("smallcnn", build_smallcnn, InputSpec.for_size(224), 0),
    )
}


def builtin(name: str) -> BuiltinModel:
    """The built-in model of that name (case-insensitive, '-'/'_' ignored)."""
    key = name.lower().replace("-", "").replace("_", "")
    if key not in BUILTIN_MODELS:
        known = ", ".join(sorted(BUILTIN_MODELS))
        raise KeyError(f"unknown built-in model {name!r}; known: {known}")
    return BUILTIN_MODELS[key]
