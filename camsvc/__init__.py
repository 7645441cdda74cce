"""camsvc: camera-network monitoring for commune security."""

__version__ = "0.1.0"
