"""Roles, permissions, scope and the picture / owner-contact rules, as tables."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from camsvc.auth.roles import (
    PERMISSIONS,
    Action,
    Role,
    UnknownAction,
    actions_for,
    can,
    in_scope,
    may_act_on_camera,
    may_see_owner_contact,
    may_see_picture,
    min_role,
    normalize_scope,
    parse_role,
)
from camsvc.models import CameraKind

V, T, OFC, A = Role.VIEWER, Role.TECHNICIAN, Role.OFFICER, Role.ADMIN


@dataclass
class U:
    role: str
    hamlets: list[str] = field(default_factory=list)


def test_roles_are_ordered() -> None:
    assert V < T < OFC < A
    assert sorted([A, V, OFC, T]) == [V, T, OFC, A]
    assert max(V, OFC) is OFC and min_role("admin", "technician") is T
    assert A >= A and not (V > T)


@pytest.mark.parametrize("text,role", [("viewer", V), (" Admin ", A), ("OFFICER", OFC), (T, T)])
def test_parse_role(text: str, role: Role) -> None:
    assert parse_role(text) is role


def test_parse_role_refuses_unknown_with_the_list() -> None:
    with pytest.raises(ValueError, match="roles: viewer, technician, officer, admin"):
        parse_role("root")


# action -> (viewer, technician, officer, admin)
TABLE = {
    "status.view": (1, 1, 1, 1),
    "map.view": (1, 1, 1, 1),
    "outages.view": (1, 1, 1, 1),
    "uptime.view": (1, 1, 1, 1),
    "recording.view": (1, 1, 1, 1),
    "alerts.acknowledge": (0, 1, 1, 1),
    "maintenance.manage": (0, 1, 1, 1),
    "reference.reset": (0, 1, 1, 1),
    "pictures.camera": (0, 1, 1, 1),
    "owner_contact.view": (0, 1, 1, 1),
    "messages.view": (0, 1, 1, 1),
    "nodes.view": (0, 1, 1, 1),
    "cases.manage": (0, 0, 1, 1),
    "clips.manage": (0, 0, 1, 1),
    "pictures.household": (0, 0, 1, 1),
    "cameras.manage": (0, 0, 0, 1),
    "credentials.manage": (0, 0, 0, 1),
    "contacts.manage": (0, 0, 0, 1),
    "channels.manage": (0, 0, 0, 1),
    "rules.manage": (0, 0, 0, 1),
    "users.manage": (0, 0, 0, 1),
    "tokens.manage": (0, 0, 0, 1),
    "settings.manage": (0, 0, 0, 1),
    "audit.view": (0, 0, 0, 1),
    "pictures.household_no_consent": (0, 0, 0, 1),
    "evidence.release": (0, 0, 0, 1),
}


@pytest.mark.parametrize("action", sorted(TABLE))
def test_permission_table(action: str) -> None:
    assert tuple(int(can(r, action)) for r in (V, T, OFC, A)) == TABLE[action]


def test_table_covers_every_action_and_roles_are_supersets() -> None:
    assert set(TABLE) == {a.value for a in Action} == {a.value for a in PERMISSIONS}
    for lower, higher in [(V, T), (T, OFC), (OFC, A)]:
        assert set(actions_for(lower)) < set(actions_for(higher))


def test_unknown_action_is_an_error_not_a_no() -> None:
    with pytest.raises(UnknownAction):
        can(A, "cameras.manag")


@pytest.mark.parametrize(
    "scope,hamlet,ok",
    [
        ([], "Thôn 1", True),
        ([], "", True),
        (["Thôn 1"], "Thôn 1", True),
        (["Thôn 1"], " thôn 1 ", True),
        (["Tho\u0302n 1"], "Thôn 1", True),  # decomposed vs composed Unicode
        (["Thôn 1"], "Thôn 2", False),
        (["Thôn 1", "Thôn 2"], "Thôn 2", True),
        (["Thôn 1"], "", False),
        (["Thôn 1"], None, False),
        (["  "], "Thôn 9", True),  # a blank entry is no restriction
    ],
)
def test_in_scope(scope: list[str], hamlet: str | None, ok: bool) -> None:
    assert in_scope(scope, hamlet) is ok


def test_normalize_scope() -> None:
    assert normalize_scope([" Thôn 1", "thôn 1", "", "Thôn 2 "]) == ["Thôn 1", "Thôn 2"]


# (role, scope, kind, hamlet, consent) -> may see the picture
PICTURES = [
    # roadside: technician and above, in scope
    (V, [], "roadside", "A", False, False),
    (T, [], "roadside", "A", False, True),
    (T, ["A"], "roadside", "A", False, True),
    (T, ["B"], "roadside", "A", False, False),
    (OFC, [], "roadside", "A", False, True),
    (A, [], "roadside", "A", False, True),
    # household with consent: officer and above, in scope
    (V, [], "household", "A", True, False),
    (T, [], "household", "A", True, False),
    (OFC, [], "household", "A", True, True),
    (OFC, ["B"], "household", "A", True, False),
    (A, [], "household", "A", True, True),
    # household without consent: admin only
    (OFC, [], "household", "A", False, False),
    (T, [], "household", "A", False, False),
    (A, [], "household", "A", False, True),
    (A, ["B"], "household", "A", False, False),
]


@pytest.mark.parametrize("role,scope,kind,hamlet,consent,ok", PICTURES)
def test_may_see_picture(
    role: Role, scope: list[str], kind: str, hamlet: str, consent: bool, ok: bool
) -> None:
    assert may_see_picture(U(role, scope), kind, hamlet, consent) is ok


def test_may_see_picture_takes_the_enum_too() -> None:
    assert may_see_picture(U("officer"), CameraKind.HOUSEHOLD, "A", True)
    assert not may_see_picture(U("officer"), CameraKind.HOUSEHOLD, "A", False)


@pytest.mark.parametrize(
    "role,scope,hamlet,ok",
    [
        (V, [], "A", False),
        (T, [], "A", True),
        (T, ["A"], "A", True),
        (T, ["B"], "A", False),
        (OFC, ["a"], "A", True),
        (A, [], "A", True),
    ],
)
def test_may_see_owner_contact(role: Role, scope: list[str], hamlet: str, ok: bool) -> None:
    assert may_see_owner_contact(U(role, scope), hamlet) is ok


def test_may_act_on_camera() -> None:
    assert may_act_on_camera(U("technician", ["A"]), Action.ACKNOWLEDGE, "A")
    assert not may_act_on_camera(U("technician", ["A"]), Action.ACKNOWLEDGE, "B")
    assert not may_act_on_camera(U("viewer"), Action.MAINTENANCE, "A")
