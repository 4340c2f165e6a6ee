"""microcalc: find suspicious clusters of microcalcifications in mammograms.

Data flows one way: DICOM -> image -> tiles -> batches -> backend -> scores -> findings -> report.
The scanning runtime (:mod:`microcalc.engine`) never imports torch or onnx.
"""

__version__ = "0.1.0"
