"""The camera simulator: a Diễn Bích fleet of real streams with real faults, served on 127.0.0.1.

Layout:
  fleet.py       who the cameras are (deterministic), fleet files (CSV/YAML), hamlet matching
  footage.py     real footage encoded once into the cache (scenes, lazy picture-fault variants)
  faults.py      fault names and what each does to the picture
  gst_server.py  the GStreamer RTSP server (runs under /usr/bin/python3; stdlib + gi only)
  gst.py         drives it from asyncio
  camera.py      one port per camera: RTSP relay with auth, HTTP MJPEG/snapshot, protocol faults
  frames.py      JPEG frames for the HTTP side, picture faults per frame
  server.py      the running simulator and its control API (JSON)
  cli.py         ``camsvc simulate`` (serve, fault, status, faults, bench)
  harness.py     ``Simulator``: a context manager for tests, benchmarks and the demo
  bench.py       start-up / CPU measurements
"""
