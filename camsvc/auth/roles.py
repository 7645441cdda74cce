"""Who may do what (issue 9): four ordered roles, a permission table, hamlet scope, picture and owner rules.

Pure logic, no database: routes ask ``can(role, action)`` and, for one camera, ``may_see_picture`` /
``may_see_owner_contact``. Each role is a superset of the one before::

    viewer < technician < officer < admin

A user may be limited to hamlets (``scope``; empty = every hamlet). Scope applies to every role, admins
included (an admin normally has an empty scope). Household cameras carry the owner's consent to be viewed:
without it only an admin sees their pictures.

An unknown action name is an error (``UnknownAction``), never a silent yes or no: a typo in a route must fail
its tests, not open or close a door quietly.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Role(StrEnum):
    VIEWER = "viewer"
    TECHNICIAN = "technician"
    OFFICER = "officer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.TECHNICIAN: 1, Role.OFFICER: 2, Role.ADMIN: 3}
ROLES: tuple[Role, ...] = tuple(sorted(Role))


def parse_role(value: str | Role) -> Role:
    """``Role`` from its name (case-insensitive), with an error listing the valid names."""
    if isinstance(value, Role):
        return value
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise ValueError(f"unknown role {value!r}; roles: {', '.join(r.value for r in ROLES)}") from None


def min_role(*roles: str | Role) -> Role:
    """The lowest of the given roles (a token's effective role: never above its owner's)."""
    return min(parse_role(r) for r in roles)


# ---------------------------------------------------------------------------------------------- actions
class Action(StrEnum):
    # viewer
    STATUS_VIEW = "status.view"
    MAP_VIEW = "map.view"
    OUTAGES_VIEW = "outages.view"
    UPTIME_VIEW = "uptime.view"
    RECORDING_VIEW = "recording.view"  # recording status, segment timeline and storage (no pictures)
    # technician
    ACKNOWLEDGE = "alerts.acknowledge"
    MAINTENANCE = "maintenance.manage"
    REFERENCE_RESET = "reference.reset"
    CAMERA_PICTURES = "pictures.camera"  # roadside pictures, in scope
    OWNER_CONTACT = "owner_contact.view"  # household owner's name and phone, in scope
    MESSAGES_VIEW = "messages.view"  # sent message bodies hold acknowledge links: not for viewers
    NODES_VIEW = "nodes.view"  # probe nodes: hosts, load, which node checks which camera (issue 12)
    # officer
    CASES = "cases.manage"
    CLIPS = "clips.manage"  # export and download recordings
    HOUSEHOLD_PICTURES = "pictures.household"  # household pictures with the owner's consent, in scope
    # admin
    CAMERAS = "cameras.manage"
    CREDENTIALS = "credentials.manage"
    CONTACTS = "contacts.manage"
    CHANNELS = "channels.manage"
    RULES = "rules.manage"
    USERS = "users.manage"
    TOKENS = "tokens.manage"  # other users' API tokens
    SETTINGS = "settings.manage"
    AUDIT = "audit.view"
    HOUSEHOLD_PICTURES_NO_CONSENT = "pictures.household_no_consent"
    EVIDENCE_RELEASE = "evidence.release"  # release a closed case's hold on recorded segments


PERMISSIONS: Mapping[Action, Role] = {
    Action.STATUS_VIEW: Role.VIEWER,
    Action.MAP_VIEW: Role.VIEWER,
    Action.OUTAGES_VIEW: Role.VIEWER,
    Action.UPTIME_VIEW: Role.VIEWER,
    Action.RECORDING_VIEW: Role.VIEWER,
    Action.ACKNOWLEDGE: Role.TECHNICIAN,
    Action.MAINTENANCE: Role.TECHNICIAN,
    Action.REFERENCE_RESET: Role.TECHNICIAN,
    Action.CAMERA_PICTURES: Role.TECHNICIAN,
    Action.OWNER_CONTACT: Role.TECHNICIAN,
    Action.MESSAGES_VIEW: Role.TECHNICIAN,
    Action.NODES_VIEW: Role.TECHNICIAN,
    Action.CASES: Role.OFFICER,
    Action.CLIPS: Role.OFFICER,
    Action.HOUSEHOLD_PICTURES: Role.OFFICER,
    Action.CAMERAS: Role.ADMIN,
    Action.CREDENTIALS: Role.ADMIN,
    Action.CONTACTS: Role.ADMIN,
    Action.CHANNELS: Role.ADMIN,
    Action.RULES: Role.ADMIN,
    Action.USERS: Role.ADMIN,
    Action.TOKENS: Role.ADMIN,
    Action.SETTINGS: Role.ADMIN,
    Action.AUDIT: Role.ADMIN,
    Action.HOUSEHOLD_PICTURES_NO_CONSENT: Role.ADMIN,
    Action.EVIDENCE_RELEASE: Role.ADMIN,
}
assert set(PERMISSIONS) == set(Action), "every action needs a minimal role"


class UnknownAction(ValueError):
    pass


def required_role(action: str | Action) -> Role:
    try:
        return PERMISSIONS[Action(action)]
    except ValueError:
        raise UnknownAction(f"unknown action {action!r}") from None


def can(role: str | Role, action: str | Action) -> bool:
    """Whether *role* may do *action* anywhere (scope is checked apart, per camera)."""
    return parse_role(role) >= required_role(action)


def actions_for(role: str | Role) -> list[Action]:
    """Every action *role* may do (for a "what can I do" page and the docs)."""
    r = parse_role(role)
    return [a for a, need in PERMISSIONS.items() if r >= need]


# ---------------------------------------------------------------------------------------------- scope
def _norm(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip().casefold()


def normalize_scope(hamlets: Iterable[str] | None) -> list[str]:
    """Cleaned, de-duplicated hamlet names (order kept); blanks dropped."""
    out: list[str] = []
    seen: set[str] = set()
    for h in hamlets or ():
        clean = unicodedata.normalize("NFC", h).strip()
        if clean and _norm(clean) not in seen:
            seen.add(_norm(clean))
            out.append(clean)
    return out


def in_scope(user_scope: Iterable[str] | None, hamlet: str | None) -> bool:
    """An empty scope covers every hamlet; otherwise the hamlet must be listed (case and Unicode form aside).
    A camera without a hamlet is only in an unrestricted scope."""
    wanted = {_norm(h) for h in user_scope or () if h.strip()}
    if not wanted:
        return True
    return bool(hamlet) and _norm(hamlet or "") in wanted


class Principal(Protocol):
    """Anything with a role and a hamlet scope: ``camsvc.auth.models.User`` or a ``Subject``."""

    @property
    def role(self) -> str: ...

    @property
    def hamlets(self) -> list[str]: ...


@dataclass(frozen=True)
class Subject:
    """The authenticated caller of one request: the user and the role in effect (a token's role may be
    lower than its owner's)."""

    username: str
    role: Role
    hamlets: list[str]
    user_id: int | None = None
    via: str = "session"  # session | token


def _kind(camera_kind: object) -> str:
    return str(getattr(camera_kind, "value", camera_kind)).lower()


def may_see_picture(
    user: Principal, camera_kind: object, camera_hamlet: str | None, owner_consent: bool
) -> bool:
    """Thumbnails, reference views, clips' stills of one camera.

    - household without the owner's consent: admin only (in scope);
    - household with consent: officer and above, in scope;
    - roadside (and any other kind): technician and above, in scope.
    """
    role = parse_role(user.role)
    if not in_scope(user.hamlets, camera_hamlet):
        return False
    if _kind(camera_kind) == "household":
        if not owner_consent:
            return can(role, Action.HOUSEHOLD_PICTURES_NO_CONSENT)
        return can(role, Action.HOUSEHOLD_PICTURES)
    return can(role, Action.CAMERA_PICTURES)


def may_see_owner_contact(user: Principal, camera_hamlet: str | None) -> bool:
    """The owner's name and phone number of one camera: technician and above, in scope."""
    return can(user.role, Action.OWNER_CONTACT) and in_scope(user.hamlets, camera_hamlet)


def may_act_on_camera(user: Principal, action: str | Action, camera_hamlet: str | None) -> bool:
    """A camera-bound action (acknowledge, maintenance, reference reset...) on one camera: role and scope."""
    return can(user.role, action) and in_scope(user.hamlets, camera_hamlet)
