"""InceptionV3 (Szegedy et al. 2015; torchvision layout, 299 px, auxiliary head omitted). 23.8 M params."""

from __future__ import annotations

import onnx

from handlers.models.graph import GraphBuilder


def _block_a(g: GraphBuilder, x: str, pool_features: int) -> str:
    b1 = g.conv(x, 64, 1)
    b5 = g.conv(g.conv(x, 48, 1), 64, 5)
    b3 = g.conv(g.conv(g.conv(x, 64, 1), 96, 3), 96, 3)
    bp = g.conv(g.avgpool(x, 3, 1, pad=1), pool_features, 1)
    return g.concat([b1, b5, b3, bp])


def _block_b(g: GraphBuilder, x: str) -> str:
    b3 = g.conv(x, 384, 3, stride=2, pad=0)
    bd = g.conv(g.conv(g.conv(x, 64, 1), 96, 3), 96, 3, stride=2, pad=0)
    bp = g.maxpool(x, 3, 2)
    return g.concat([b3, bd, bp])


def _block_c(g: GraphBuilder, x: str, c7: int) -> str:
    b1 = g.conv(x, 192, 1)
    b7 = g.conv(g.conv(g.conv(x, c7, 1), c7, (1, 7)), 192, (7, 1))
    bd = g.conv(x, c7, 1)
    for kernel in ((7, 1), (1, 7), (7, 1)):
        bd = g.conv(bd, c7, kernel)
    bd = g.conv(bd, 192, (1, 7))
    bp = g.conv(g.avgpool(x, 3, 1, pad=1), 192, 1)
    return g.concat([b1, b7, bd, bp])


def _block_d(g: GraphBuilder, x: str) -> str:
    b3 = g.conv(g.conv(x, 192, 1), 320, 3, stride=2, pad=0)
    b7 = g.conv(g.conv(g.conv(x, 192, 1), 192, (1, 7)), 192, (7, 1))
    b7 = g.conv(b7, 192, 3, stride=2, pad=0)
    bp = g.maxpool(x, 3, 2)
    return g.concat([b3, b7, bp])


def _block_e(g: GraphBuilder, x: str) -> str:
    b1 = g.conv(x, 320, 1)
    b3 = g.conv(x, 384, 1)
    b3 = g.concat([g.conv(b3, 384, (1, 3)), g.conv(b3, 384, (3, 1))])
    bd = g.conv(g.conv(x, 448, 1), 384, 3)
    bd = g.concat([g.conv(bd, 384, (1, 3)), g.conv(bd, 384, (3, 1))])
    bp = g.conv(g.avgpool(x, 3, 1, pad=1), 192, 1)
    return g.concat([b1, b3, bd, bp])


def build_inceptionv3(seed: int, num_classes: int = 1000) -> onnx.ModelProto:
    g = GraphBuilder(seed, input_size_px=299)
    x = g.conv(g.input_name, 32, 3, stride=2, pad=0)  # 149
    x = g.conv(x, 32, 3, pad=0)  # 147
    x = g.conv(x, 64, 3)  # 147
    x = g.maxpool(x, 3, 2)  # 73
    x = g.conv(x, 80, 1)
    x = g.conv(x, 192, 3, pad=0)  # 71
    x = g.maxpool(x, 3, 2)  # 35
    for pool_features in (32, 64, 64):
        x = _block_a(g, x, pool_features)
    x = _block_b(g, x)  # 17
    for c7 in (128, 160, 160, 192):
        x = _block_c(g, x, c7)
    x = _block_d(g, x)  # 8
    x = _block_e(g, x)
    x = _block_e(g, x)
    return g.build(g.classifier(x, num_classes), "inceptionv3")
