"""``mc-serve``: a DICOM node (pynetdicom) that scans received mammograms and sends CAD SRs to a PACS.

One job per module: ``config`` (settings), ``spool`` (durable states of each object), ``scp``
(C-STORE/C-ECHO receiver), ``worker`` (scanning through one loaded backend), ``sender``
(C-STORE to the destination with back-off), ``cli`` (the command and its lifecycle). pynetdicom
and highdicom are imported on first use (the ``dicom`` extra); nothing here imports torch or onnx.
"""
