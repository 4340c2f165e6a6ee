"""The names of the exported model's tensors: the contract between export, bundle and backends.

Every ONNX variant and TensorRT engine takes ``tiles`` (uint8 ``[N, 1, P, P]``) and returns
``p_cluster`` (float32 ``[N]``) and ``cam`` (float32 ``[N, h, w]``); see docs/design.md. The
exporter names the graph's tensors with these constants and every backend binds by them, so a
rename happens here or nowhere.
"""

INPUT = "tiles"
P_CLUSTER = "p_cluster"
CAM = "cam"
OUTPUTS = (P_CLUSTER, CAM)
