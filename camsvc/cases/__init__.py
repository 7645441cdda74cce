"""Cases and evidence (issue 10): case clips from recorded segments or the camera's own storage, the
evidence lock (holds), export jobs building a signed package, and its verification. See docs/recording.md."""
