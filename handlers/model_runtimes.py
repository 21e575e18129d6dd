"""The runtimes that can serve an ONNX model: ONNX Runtime, OpenCV DNN and OpenVINO.

They stand in for the frameworks the published studies compared (TensorFlow, PyTorch, Caffe): the
same ONNX file, three inference engines. Selected by `MODEL_RUNTIME` (Lambda style):

    MODEL_RUNTIME   onnxruntime (default) | opencv | openvino   (aliases: ort, cv2, opencv-dnn, ov)

Each runner loads the file once (`load_runner`), reports its name and version, the model's input
shape (for the input spec of user models) and runs one NCHW/NHWC float32 batch (`run`). All three use
the same thread count (`threads`: see `handlers.core.intra_op_threads`) and full fp32 precision.

Errors are clear, never a wrong number:
- the runtime's package is not installed: `runtime_not_installed` (501, "runtime X is not installed");
- the runtime cannot load the model (an operator it does not support, ...): `runtime_unsupported`
  (501, with the runtime's own message);
- an output that is not finite: `inference_failed` (500).
Only ONNX Runtime's own load failures keep the kind `model_load_failed` (it is the reference runtime).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from handlers.errors import ModelError, RuntimeUnsupported

DEFAULT_RUNTIME = "onnxruntime"
RUNTIMES = ("onnxruntime", "opencv", "openvino")
ALIASES = {"ort": "onnxruntime", "onnx": "onnxruntime", "cv2": "opencv", "opencv-dnn": "opencv", "ov": "openvino"}
PACKAGES = {"onnxruntime": "onnxruntime", "opencv": "opencv-python-headless", "openvino": "openvino"}
Shape = Sequence[int | str | None]


class ModelRunner(Protocol):
    """One loaded model in one runtime."""

    name: str  # one of RUNTIMES
    version: str

    @property
    def input_name(self) -> str: ...

    @property
    def input_shape(self) -> Shape: ...  # e.g. [1, 3, 224, 224]; None / a name for a dynamic dimension

    def run(self, tensor: np.ndarray) -> np.ndarray: ...


def runtime_name(env: Mapping[str, str]) -> str:
    """The runtime selected by MODEL_RUNTIME (default onnxruntime); ModelError for an unknown one."""
    raw = env.get("MODEL_RUNTIME", "").strip().lower()
    name = ALIASES.get(raw, raw) or DEFAULT_RUNTIME
    if name not in RUNTIMES:
        raise ModelError("bad_model_runtime", f"MODEL_RUNTIME={raw!r}; expected one of {', '.join(RUNTIMES)}")
    return name


def not_installed(runtime: str, exc: BaseException) -> RuntimeUnsupported:
    return RuntimeUnsupported(
        "runtime_not_installed",
        f"runtime {runtime} is not installed (pip install {PACKAGES[runtime]}): {type(exc).__name__}: {exc}",
    )


def unsupported(runtime: str, path: Path, exc: BaseException) -> RuntimeUnsupported:
    message = " ".join(str(exc).split())[:2000]  # the runtime's own words, on one line
    return RuntimeUnsupported("runtime_unsupported", f"runtime {runtime} cannot load {path.name}: {message}")


def first_row(runtime: str, output: Any) -> np.ndarray:
    """The first batch row of an output, flattened; `inference_failed` if it is not all finite."""
    array = np.asarray(output)
    row = array.reshape(array.shape[0], -1)[0] if array.ndim > 1 else array.reshape(-1)
    if row.size == 0 or not np.all(np.isfinite(row)):
        raise ModelError("inference_failed", f"runtime {runtime} gave an empty or non-finite output {array.shape}")
    return row


def session_options(threads: int) -> Any:
    """Deterministic ORT session options: sequential, `threads` intra-op threads, no spinning."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.use_deterministic_compute = True
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OnnxRuntimeRunner:
    """ONNX Runtime, CPU execution provider (the reference runtime)."""

    name = "onnxruntime"

    def __init__(self, path: Path, threads: int) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise not_installed(self.name, exc) from exc
        self.version = ort.__version__
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own (non-exported) exception types
            raise ModelError("model_load_failed", f"could not load {path}: {exc}") from exc
        first = self.session.get_inputs()[0]
        self.input_name, self.input_shape = first.name, list(first.shape)

    def run(self, tensor: np.ndarray) -> np.ndarray:
        try:
            output = self.session.run(None, {self.input_name: tensor})[0]
        except Exception as exc:  # ORT raises its own (non-exported) exception types
            raise ModelError("inference_failed", f"runtime {self.name}: {exc}") from exc
        return first_row(self.name, output)


def onnx_input(path: Path) -> tuple[str, list[int | str | None]]:
    """(name, shape) of the graph's first real input, read with `onnx` (weights not loaded)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}
    first = next(i for i in model.graph.input if i.name not in initializers)
    dims = first.type.tensor_type.shape.dim
    return first.name, [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims]


class OpenCvRunner:
    """OpenCV DNN (`cv2.dnn.readNetFromONNX`), OpenCV backend on the CPU.

    OpenCV does not expose the input's shape before a forward pass: it is read from the file with
    `onnx`, and only when asked (user models), so built-in models' cold starts do not import `onnx`.
    """

    name = "opencv"

    def __init__(self, path: Path, threads: int) -> None:
        try:
            import cv2
        except ImportError as exc:
            raise not_installed(self.name, exc) from exc
        self.version = cv2.__version__
        self.path = path
        self._input: tuple[str, Shape] | None = None
        cv2.setNumThreads(threads)
        try:
            self.net = cv2.dnn.readNetFromONNX(str(path))
            self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        except Exception as exc:  # cv2.error, or whatever else its importer raises
            raise unsupported(self.name, path, exc) from exc
        self._cv_error = cv2.error

    def _graph_input(self) -> tuple[str, Shape]:
        if self._input is None:
            try:
                self._input = onnx_input(self.path)
            except Exception as exc:  # onnx's parse errors
                raise unsupported(self.name, self.path, exc) from exc
        return self._input

    @property
    def input_name(self) -> str:
        return self._graph_input()[0]

    @property
    def input_shape(self) -> Shape:
        return self._graph_input()[1]

    def run(self, tensor: np.ndarray) -> np.ndarray:
        try:
            self.net.setInput(np.ascontiguousarray(tensor))
            output = self.net.forward()
        except self._cv_error as exc:  # a layer it parsed but cannot run on this input
            raise RuntimeUnsupported("runtime_unsupported", f"runtime {self.name}: {exc}") from exc
        return first_row(self.name, output)


class OpenVinoRunner:
    """OpenVINO on the CPU device, fp32 inference precision, one stream, latency hint."""

    name = "openvino"

    def __init__(self, path: Path, threads: int) -> None:
        try:
            import openvino as ov
        except ImportError as exc:
            raise not_installed(self.name, exc) from exc
        self.version = ov.__version__.split("-", 1)[0]
        config = {
            "INFERENCE_NUM_THREADS": threads,
            "INFERENCE_PRECISION_HINT": "f32",
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
        }
        try:
            self.compiled = ov.Core().compile_model(str(path), "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError (op conversion failures, ...)
            raise unsupported(self.name, path, exc) from exc
        port = self.compiled.input(0)
        self.input_name = port.get_any_name()
        self.input_shape = [d.get_length() if d.is_static else None for d in port.get_partial_shape()]
        self.request = self.compiled.create_infer_request()

    def run(self, tensor: np.ndarray) -> np.ndarray:
        try:
            output = self.request.infer({0: tensor})[self.compiled.output(0)]
        except Exception as exc:  # RuntimeError from the plugin
            raise ModelError("inference_failed", f"runtime {self.name}: {exc}") from exc
        return first_row(self.name, output)


RUNNERS: dict[str, type[OnnxRuntimeRunner] | type[OpenCvRunner] | type[OpenVinoRunner]] = {
    "onnxruntime": OnnxRuntimeRunner,
    "opencv": OpenCvRunner,
    "openvino": OpenVinoRunner,
}


def load_runner(runtime: str, path: Path, threads: int) -> ModelRunner:
    """The model at `path` loaded in `runtime` (one of RUNTIMES) with `threads` threads."""
    if runtime not in RUNNERS:
        raise ModelError("bad_model_runtime", f"runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    if not os.path.isfile(path):
        raise ModelError("model_not_found", f"no model file at {path}")
    return RUNNERS[runtime](Path(path), threads)
