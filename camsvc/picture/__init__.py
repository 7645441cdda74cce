"""Picture health: is the camera's picture usable (black, frozen, blurred, covered, turned...)?

Pure at the centre (data in, data out; no ORM, no clock): ``measure`` (frames -> FrameMetrics),
``baseline`` (a camera's learned normal), ``views`` (reference views for ``turned``), ``judge`` (the faults
of one check). Two entry points: the probe worker calls :func:`camsvc.picture.measure.postprocess`, the
check pipeline calls :func:`camsvc.picture.store.analyse` (judge and learn against the stored state).
"""
