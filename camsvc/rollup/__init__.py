"""Hourly rollups of checks per camera (kept for years) and the pruning of raw checks and delivered alert
messages (bounded growth). docs/retention.md."""
