"""Probe nodes: processes that check (and record) the cameras of one site, coordinated through the shared
database (a node row with a heartbeat, a lease per camera). docs/nodes.md."""
