"""Where camsvc finds things outside the package: its cache directory and the ffmpeg binary.

The cache (encoded simulator footage, benchmark corpora and data sets) follows ``simulator.cache_dir``
from the settings (``CAMSVC_SIMULATOR__CACHE_DIR``, the YAML file, default ``~/.cache/camsvc``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from camsvc.config import Settings


def cache_dir(settings: Settings | None = None) -> Path:
    """The cache directory of *settings* (default: the settings loaded from the environment and YAML)."""
    if settings is None:
        from camsvc.config import load_settings

        settings = load_settings()
    return settings.simulator.cache_dir.expanduser()


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped with imageio-ffmpeg (the same build everywhere, whatever is on PATH)."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())
