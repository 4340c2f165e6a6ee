"""Whole-image evaluation of the product as it runs: FROC against ground truth, image-level
operating points (``mc-froc``). No torch: it runs on a scanning workstation."""
