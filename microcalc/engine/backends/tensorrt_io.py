"""Check a deserialised TensorRT engine's inputs and outputs against what the backend feeds it.

The sidecar (:mod:`~microcalc.engine.backends.engine_check`) says which library, GPU and ONNX
model built an engine; this looks inside the engine itself. Its tensors must be the bundle's:
``tiles`` uint8 in, ``p_cluster`` and ``cam`` float32 out, and its optimisation profile must
take this tile size and batch size. Buffer sizes come from the profile's maximum shape and from
the shapes a context resolves at that batch, never from ``get_tensor_shape`` on the engine,
which holds -1 on the dynamic batch axis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from microcalc.errors import MicrocalcError, StaleArtifactError
from microcalc.tensor_names import INPUT, OUTPUTS


def _dims(dims: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in dims)


def check_io(
    engine: Any, trt: Any, *, path: Path, input_shape: tuple[int, ...], max_batch: int, rebuild: str
) -> None:
    """Raise ``StaleArtifactError`` unless the engine's tensors and profile fit the backend.

    Args:
        engine: a deserialised ``ICudaEngine``.
        trt: the ``tensorrt`` or ``tensorrt_rtx`` module (for its ``DataType``/``TensorIOMode``).
        path: the engine file, named in messages.
        input_shape: ``(1, P, P)``; max_batch: the largest batch the backend will submit.
        rebuild: the hint that ends every message.
    """

    def stale(problem: str) -> StaleArtifactError:
        return StaleArtifactError(f"{path}: {problem}; {rebuild}")

    expected = {
        INPUT: (trt.TensorIOMode.INPUT, trt.DataType.UINT8),
        **{name: (trt.TensorIOMode.OUTPUT, trt.DataType.FLOAT) for name in OUTPUTS},
    }
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    if sorted(names) != sorted(expected):
        raise stale(f"engine tensors are {', '.join(names)}; expected {', '.join(expected)}")
    for name, (mode, dtype) in expected.items():
        got_mode, got_dtype = engine.get_tensor_mode(name), engine.get_tensor_dtype(name)
        if got_mode != mode or got_dtype != dtype:
            raise stale(f"tensor '{name}' is {got_mode} {got_dtype}, expected {mode} {dtype}")
    if engine.num_optimization_profiles < 1:
        raise stale("engine has no optimisation profile")
    low, _, high = (_dims(d) for d in engine.get_tensor_profile_shape(INPUT, 0))
    if high[1:] != tuple(input_shape):
        raise stale(f"engine takes tiles of shape {list(high[1:])}, the bundle's are {list(input_shape)}")
    if low[0] > 1:
        raise stale(f"engine profile's smallest batch is {low[0]}, but a scan's last batch can be 1 tile")
    if max_batch > high[0]:
        raise stale(
            f"engine profile takes batches up to {high[0]}, asked for {max_batch} "
            "(use a smaller batch or rebuild with a larger --max-batch)"
        )


def output_shapes(
    context: Any, *, path: Path, input_shape: tuple[int, ...], batch: int
) -> dict[str, tuple[int, ...]]:
    """Shapes of the outputs for a batch of ``batch`` tiles, resolved by an execution context.

    Raises ``MicrocalcError`` when the context refuses the batch or a dimension stays unresolved.
    """
    if not context.set_input_shape(INPUT, (batch, *input_shape)):
        raise MicrocalcError(f"{path}: the engine refuses a batch of {batch} tiles")
    shapes = {name: _dims(context.get_tensor_shape(name)) for name in OUTPUTS}
    for name, shape in shapes.items():
        if not shape or min(shape) < 1:
            raise MicrocalcError(
                f"{path}: output '{name}' has unresolved shape {list(shape)} at batch {batch}"
            )
    return shapes


def bind(context: Any, addresses: dict[str, int], *, path: Path) -> None:
    """``set_tensor_address`` for every tensor, checking each result (False: TensorRT refused it)."""
    for name, address in addresses.items():
        if not context.set_tensor_address(name, int(address)):
            raise MicrocalcError(f"{path}: TensorRT refused the device address of tensor '{name}'")
