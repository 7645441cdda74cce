"""Which nodes may check which cameras: pure rules over the live nodes, shared by the lease claims
(:mod:`camsvc.nodes.leases`) and the coverage watch (cameras that no node can reach).

A camera of site S is checked by a live node of site S; when S has none, by a node with no site (a node
that reaches every network, as the single-machine default); when there is neither, by nobody: the camera
is ``unknown/no_probe_node``, not down. A camera with no site is checked by a node with no site, or, with
none, by any live node.

Within a pool each node holds about the same number of cameras: ``ceil(cameras / nodes)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class LiveNode:
    name: str
    site: str  # "": any site


def pool_for(site: str, nodes: Iterable[LiveNode]) -> tuple[str, ...]:
    """The names of the live nodes that may check a camera of *site*, sorted; empty: no node can."""
    nodes = list(nodes)
    anywhere = sorted(n.name for n in nodes if not n.site)
    if site:
        own = sorted(n.name for n in nodes if n.site == site)
        return tuple(own or anywhere)
    return tuple(anywhere or sorted(n.name for n in nodes))


def quotas(cameras_per_site: Mapping[str, int], nodes: Iterable[LiveNode], node: str) -> dict[str, int]:
    """How many cameras of each site *node* should hold: its fair share of each pool it belongs to."""
    nodes = list(nodes)
    out: dict[str, int] = {}
    for site, n in cameras_per_site.items():
        pool = pool_for(site, nodes)
        if node in pool and n > 0:
            out[site] = math.ceil(n / len(pool))
    return out


def uncovered_sites(sites: Iterable[str], nodes: Iterable[LiveNode]) -> set[str]:
    """The sites whose cameras no live node may check."""
    nodes = list(nodes)
    return {s for s in sites if not pool_for(s, nodes)}
