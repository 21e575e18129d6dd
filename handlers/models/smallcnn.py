"""A tiny CNN (about 0.1 M params) with the same input/output contract, for fast tests."""

from __future__ import annotations

import onnx

from handlers.models.graph import GraphBuilder


def build_smallcnn(seed: int, num_classes: int = 1000) -> onnx.ModelProto:
    g = GraphBuilder(seed, input_size_px=224)
    x = g.conv(g.input_name, 16, 3, stride=2)
    x = g.maxpool(x, 2, 2)
    x = g.conv(x, 32, 3, stride=2)
    x = g.conv(x, 32, 3, group=32)  # depthwise
    x = g.conv(x, 64, 1, stride=2)
    return g.build(g.classifier(x, num_classes), "smallcnn")
