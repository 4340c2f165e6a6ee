"""Inference backends behind one interface (:class:`~microcalc.engine.backends.base.Backend`)."""
