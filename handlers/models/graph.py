"""A small ONNX graph builder for CNN classifiers with random (seeded) weights.

Every convolution is a Conv with a bias: the BatchNorm of the original architectures is folded
into the conv weights and bias, as an inference graph would have it. Weights are He-initialised
(std = sqrt(2 / fan_in) * gain) so activations neither vanish nor explode; residual branches use
a smaller gain so that sums of many blocks stay in range. The classifier head uses std 0.01
(as torchvision initialises its final Linear), so softmax outputs are not saturated.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # what onnxruntime >= 1.14 reads; matches opset 17
Kernel = int | tuple[int, int]


def _pair(value: Kernel) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


class GraphBuilder:
    """Accumulates nodes and initializers; tracks the channel count of every tensor it makes."""

    def __init__(self, seed: int, input_size_px: int, input_name: str = "input") -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.channels: dict[str, int] = {input_name: 3}
        self.input_name = input_name
        self.input_size_px = input_size_px
        self.param_count = 0
        self._counter = 0
        self._has_clip_bounds = False

    def _name(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self._counter}"

    def _weight(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(array.astype(np.float32), name))
        self.param_count += int(array.size)
        return name

    def _node(self, op: str, inputs: list[str], channels: int, **attrs: object) -> str:
        out = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        self.channels[out] = channels
        return out

    def conv(
        self,
        x: str,
        out_channels: int,
        kernel: Kernel,
        stride: int = 1,
        pad: Kernel | None = None,
        group: int = 1,
        act: str | None = "relu",
        gain: float = 1.0,
    ) -> str:
        """Conv (+ folded BN as bias) followed by relu / relu6 / nothing. pad None = kernel // 2."""
        in_channels = self.channels[x]
        kh, kw = _pair(kernel)
        ph, pw = _pair(pad) if pad is not None else (kh // 2, kw // 2)
        fan_in = in_channels // group * kh * kw
        std = math.sqrt(2.0 / fan_in) * gain
        shape = (out_channels, in_channels // group, kh, kw)
        name = self._name("conv")
        w = self._weight(f"{name}.weight", self.rng.standard_normal(shape, dtype=np.float32) * std)
        b = self._weight(f"{name}.bias", self.rng.standard_normal(out_channels, dtype=np.float32) * 0.01)
        y = self._node(
            "Conv",
            [x, w, b],
            out_channels,
            kernel_shape=[kh, kw],
            strides=[stride, stride],
            pads=[ph, pw, ph, pw],
            group=group,
        )
        return self.activation(y, act)

    def activation(self, x: str, act: str | None) -> str:
        if act is None:
            return x
        if act == "relu":
            return self._node("Relu", [x], self.channels[x])
        if act == "relu6":
            self._ensure_clip_bounds()
            return self._node("Clip", [x, "relu6.min", "relu6.max"], self.channels[x])
        raise ValueError(f"unknown activation {act!r}; expected relu, relu6 or None")

    def _ensure_clip_bounds(self) -> None:
        # scalar bounds are constants, not learnable parameters: not counted in param_count
        if self._has_clip_bounds:
            return
        self.initializers.append(numpy_helper.from_array(np.array(0.0, np.float32), "relu6.min"))
        self.initializers.append(numpy_helper.from_array(np.array(6.0, np.float32), "relu6.max"))
        self._has_clip_bounds = True

    def maxpool(self, x: str, kernel: int, stride: int, pad: int = 0) -> str:
        return self._node(
            "MaxPool",
            [x],
            self.channels[x],
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[pad] * 4,
        )

    def avgpool(self, x: str, kernel: int, stride: int, pad: int = 0) -> str:
        return self._node(
            "AveragePool",
            [x],
            self.channels[x],
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[pad] * 4,
            count_include_pad=1,
        )

    def add(self, a: str, b: str) -> str:
        return self._node("Add", [a, b], self.channels[a])

    def relu(self, x: str) -> str:
        return self.activation(x, "relu")

    def concat(self, parts: list[str]) -> str:
        return self._node("Concat", parts, sum(self.channels[p] for p in parts), axis=1)

    def classifier(self, x: str, num_classes: int) -> str:
        """GlobalAveragePool -> Flatten -> Gemm (std 0.01, zero bias) -> Softmax."""
        pooled = self._node("GlobalAveragePool", [x], self.channels[x])
        flat = self._node("Flatten", [pooled], self.channels[x], axis=1)
        name = self._name("fc")
        in_features = self.channels[x]
        weight = self.rng.standard_normal((num_classes, in_features), dtype=np.float32) * 0.01
        w = self._weight(f"{name}.weight", weight)
        b = self._weight(f"{name}.bias", np.zeros(num_classes, np.float32))
        logits = self._node("Gemm", [flat, w, b], num_classes, transB=1)
        return self._node("Softmax", [logits], num_classes, axis=1)

    def build(self, output: str, graph_name: str, weights_label: str = "random") -> onnx.ModelProto:
        """Assemble the ModelProto: input [N,3,S,S] float32 (N dynamic), output [N,num_classes]."""
        size = self.input_size_px
        inp = helper.make_tensor_value_info(self.input_name, TensorProto.FLOAT, ["N", 3, size, size])
        out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", self.channels[output]])
        self.nodes.append(helper.make_node("Identity", [output], ["probabilities"], name="output"))
        graph = helper.make_graph(self.nodes, graph_name, [inp], [out], initializer=self.initializers)
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="loadlab-handlers"
        )
        model.ir_version = IR_VERSION
        helper.set_model_props(model, {"weights": weights_label, "architecture": graph_name})
        return model


def count_params(model: onnx.ModelProto) -> int:
    """Learnable parameters of a model: elements of every non-scalar initializer."""
    return sum(math.prod(t.dims) for t in model.graph.initializer if len(t.dims) > 0)
