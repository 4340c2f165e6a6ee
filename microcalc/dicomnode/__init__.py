"""``mc-serve``: a DICOM node (pynetdicom) that scans received mammograms and sends CAD SRs to a PACS.

One job per module: ``config`` (settings), ``spool`` (durable states of each object), ``scp``
(C-STORE/C-ECHO receiver), ``worker`` (scanning through one loaded backend), ``sender``
(C-STORE to the destination with back-off), ``cli`` (the command and its lifecycle); its
security: ``access`` (allow-list, A-ASSOCIATE-RJ reasons), ``tls`` (DICOM TLS contexts, the
deferred handshake), ``limits`` (spool quota, dataset size, the SCP's limits), ``audit`` (JSON
lines, DICOM audit messages over syslog), ``options`` (their click options). pynetdicom
and highdicom are imported on first use (the ``dicom`` extra); nothing here imports torch or onnx.
"""
