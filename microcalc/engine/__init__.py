"""The scanning engine: DICOM -> image -> tiles -> batches -> backend -> scores -> findings -> report.

Nothing under this package imports torch or onnx at module level; the torch backend imports
torch only when it is chosen. A scanning workstation installs numpy, pydicom, onnxruntime and
the backend it uses.
"""
