"""Recording (issue 10): per-camera recorders writing stream-copied segments, their index, retention and
disk-pressure cleanup, and recording health. See docs/recording.md."""
