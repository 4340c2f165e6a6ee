"""Mammography CAD SR (DICOM PS3.16 TID 4000) for scan results: what a PACS viewer shows.

``content`` builds the content tree from highdicom content items, ``document`` the SR instance
that files it with the scanned image's study. highdicom is an optional dependency (the ``dicom``
extra) imported on first use; this package imports neither torch nor onnx.
"""
