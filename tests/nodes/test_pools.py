"""The pool rules as a table: who may check a camera of a site, and each node's fair share."""

from __future__ import annotations

import pytest

from camsvc.nodes.pools import LiveNode, pool_for, quotas, uncovered_sites

A1, A2, B1, ANY = LiveNode("a1", "A"), LiveNode("a2", "A"), LiveNode("b1", "B"), LiveNode("any", "")


@pytest.mark.parametrize(
    ("site", "nodes", "pool"),
    [
        ("A", [A1, A2, B1, ANY], ("a1", "a2")),  # the site's own nodes first
        ("A", [B1, ANY], ("any",)),  # none of its own: a node that reaches every site
        ("A", [B1], ()),  # nobody: no_probe_node
        ("", [A1, ANY], ("any",)),  # a camera with no site: an any-site node
        ("", [B1, A1], ("a1", "b1")),  # or, with none, any live node
        ("", [], ()),
    ],
)
def test_pool_for(site: str, nodes: list[LiveNode], pool: tuple[str, ...]) -> None:
    assert pool_for(site, nodes) == pool


def test_quotas_split_each_pool_evenly() -> None:
    nodes = [A1, A2, B1]
    per_site = {"A": 5, "B": 3, "C": 4}
    assert quotas(per_site, nodes, "a1") == {"A": 3}
    assert quotas(per_site, nodes, "b1") == {"B": 3}
    assert quotas(per_site, nodes + [ANY], "any") == {"C": 4}
    assert uncovered_sites(per_site, nodes) == {"C"}
    assert uncovered_sites(per_site, nodes + [ANY]) == set()
