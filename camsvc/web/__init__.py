"""The map/status dashboard: ``camsvc.web.routes:router`` serves ``/``, its static files and ``/web/changes``.

The page itself (Jinja2 template, plain JS, one CSS file, vi/en translations) lives in ``web/`` at the top of
the repository; Leaflet and its clustering plugin come from the ``xstatic-*`` wheels (no CDN).
"""
