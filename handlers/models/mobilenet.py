"""MobileNetV2 (Sandler et al. 2018; width 1.0, 224 px). 3.5 M params."""

from __future__ import annotations

import onnx

from handlers.models.graph import GraphBuilder

# (expansion t, output channels c, repeats n, first stride s), from the paper's Table 2
MOBILENETV2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
LAST_CHANNELS = 1280
RESIDUAL_GAIN = 0.5


def _inverted_residual(g: GraphBuilder, x: str, out_channels: int, stride: int, expansion: int) -> str:
    in_channels = g.channels[x]
    hidden = in_channels * expansion
    y = x if expansion == 1 else g.conv(x, hidden, 1, act="relu6")
    y = g.conv(y, hidden, 3, stride=stride, group=hidden, act="relu6")  # depthwise
    use_residual = stride == 1 and in_channels == out_channels
    y = g.conv(y, out_channels, 1, act=None, gain=RESIDUAL_GAIN if use_residual else 1.0)
    return g.add(x, y) if use_residual else y


def build_mobilenetv2(seed: int, num_classes: int = 1000) -> onnx.ModelProto:
    g = GraphBuilder(seed, input_size_px=224)
    x = g.conv(g.input_name, 32, 3, stride=2, act="relu6")
    for expansion, channels, repeats, first_stride in MOBILENETV2_SETTINGS:
        for i in range(repeats):
            x = _inverted_residual(g, x, channels, first_stride if i == 0 else 1, expansion)
    x = g.conv(x, LAST_CHANNELS, 1, act="relu6")
    return g.build(g.classifier(x, num_classes), "mobilenetv2")
