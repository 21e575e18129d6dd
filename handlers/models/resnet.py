"""ResNet-50 (He et al. 2015; torchvision v1.5 layout: stride on the 3x3 conv). 25.6 M params."""

from __future__ import annotations

import onnx

from handlers.models.graph import GraphBuilder

RESNET50_BLOCKS = (3, 4, 6, 3)
RESNET50_WIDTHS = (64, 128, 256, 512)
EXPANSION = 4
RESIDUAL_GAIN = 0.3  # keeps the sum over 16 residual blocks in range with random weights


def _bottleneck(g: GraphBuilder, x: str, width: int, stride: int) -> str:
    out_channels = width * EXPANSION
    y = g.conv(x, width, 1)
    y = g.conv(y, width, 3, stride=stride)
    y = g.conv(y, out_channels, 1, act=None, gain=RESIDUAL_GAIN)
    shortcut = x
    if stride != 1 or g.channels[x] != out_channels:
        shortcut = g.conv(x, out_channels, 1, stride=stride, act=None)
    return g.relu(g.add(y, shortcut))


def build_resnet50(seed: int, num_classes: int = 1000) -> onnx.ModelProto:
    g = GraphBuilder(seed, input_size_px=224)
    x = g.conv(g.input_name, 64, 7, stride=2)
    x = g.maxpool(x, 3, 2, pad=1)
    for stage, (blocks, width) in enumerate(zip(RESNET50_BLOCKS, RESNET50_WIDTHS, strict=True)):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _bottleneck(g, x, width, stride)
    return g.build(g.classifier(x, num_classes), "resnet50")
