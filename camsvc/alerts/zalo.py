"""Zalo Official Account channel: ``zalo://<OA access token>@<OA id or "oa">/<user id>[/<user id>...]``.

Apprise has no Zalo plugin, so camsvc speaks Zalo's OA message API itself (Message API v3, customer-service
message): one ``POST https://openapi.zalo.me/v3.0/oa/message/cs`` per recipient, header
``access_token: <OA access token>``, JSON ``{"recipient": {"user_id": ...}, "message": {"text": ...}}``.
Zalo answers JSON ``{"error": 0, "message": "Success", "data": {"message_id": ..., ...}}``; any ``error``
other than 0 is a failure, whatever the HTTP status.

The OA access token lasts about 25 hours. Either put one in the URL (and replace it before it expires), or
let camsvc refresh it: ``zalo://<app id>:<app secret key>@<OA>/<user id>...?refresh_token=<refresh token>``.
Then camsvc exchanges the refresh token at Zalo's OAuth endpoint (``POST
https://oauth.zaloapp.com/v4/oa/access_token``, header ``secret_key``, form ``app_id``, ``grant_type=
refresh_token``, ``refresh_token``) whenever it has no access token with at least an hour left, or Zalo calls
the token invalid. Zalo answers a new access token *and a new refresh token* (the old one is used up), so the
pair is kept in the database (``AlertKV``, encrypted at rest) and survives restarts; the URL's refresh token
only seeds it (a different one pasted into the URL seeds it again).

``?endpoint=http://host:port/path`` replaces the whole Zalo URL (a local relay, or the tests' fake Zalo); such
an endpoint must be on an allowed network (:mod:`camsvc.netpolicy`), checked when the channel is saved and
again before every delivery. The default endpoint is Zalo's public API and, like Telegram's, not checked.

The channel goes through :mod:`camsvc.alerts.channels` like every other: same outbox, retries, attempt
records, redaction (:func:`redacted`, :func:`secrets_of`) and log filter. This module never logs the token
and never puts it in an error text; channels.py scrubs the error once more.

Pure parts (:func:`parse`, :func:`redacted`, :func:`compose`, :func:`split_text`, :func:`describe_answer`)
do no I/O; :func:`send` does the HTTP.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlsplit

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

SCHEME = "zalo"
DEFAULT_ENDPOINT = "https://openapi.zalo.me/v3.0/oa/message/cs"
SERVICE_NAME = "Zalo OA"
TEXT_LIMIT = 2000  # characters in one Zalo text message
MAX_PARTS = 4  # a longer message is cut after this many parts (a grouped alert lists 40 cameras at most)
DEFAULT_OAUTH = "https://oauth.zaloapp.com/v4/oa/access_token"
FORM = "zalo://<OA access token>@<OA id or 'oa'>/<user id>[/<user id>...][?endpoint=http://host:port/path]"
FORM_REFRESH = "zalo://<app id>:<app secret key>@<OA id or 'oa'>/<user id>...?refresh_token=<refresh token>"
REFRESH_MARGIN_S = 3600.0  # refresh when less than this is left of the access token

_USER_RE = re.compile(r"^[0-9]{1,32}$")
_OA_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Zalo's answer codes for a token that no longer works, and for too many requests. Zalo's own message is
# always shown too: these only add what to do about it.
TOKEN_ERRORS = frozenset({-216, -124, -201})
RATE_ERRORS = frozenset({-32})


class ZaloUrlError(ValueError):
    """A zalo:// URL camsvc cannot use; the message says what is wrong and never holds the token."""


@dataclass(frozen=True)
class ZaloTarget:
    token: str  # the access token, or "" when camsvc refreshes it (app_id set)
    oa: str
    users: tuple[str, ...]
    endpoint: str = DEFAULT_ENDPOINT
    custom_endpoint: bool = False
    app_id: str = ""
    secret_key: str = ""
    refresh_token: str = ""
    oauth: str = DEFAULT_OAUTH
    custom_oauth: bool = False

    @property
    def refreshing(self) -> bool:
        return bool(self.app_id)

    def endpoints(self) -> list[str]:
        """The custom endpoints (relay, tests): the ones the network policy must allow."""
        return [e for e, c in ((self.endpoint, self.custom_endpoint), (self.oauth, self.custom_oauth)) if c]


def is_zalo(url: str) -> bool:
    return (url or "").strip().lower().startswith(SCHEME + "://")


def parse(url: str) -> ZaloTarget:
    """Read a zalo:// URL; raises :class:`ZaloUrlError` naming the missing or malformed part."""
    url = (url or "").strip()
    if not is_zalo(url):
        raise ZaloUrlError(f"not a zalo:// URL; the form is {FORM}")
    rest = url[len(SCHEME) + 3 :]
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    if fragment:
        raise ZaloUrlError("zalo:// URL: unexpected '#' part")
    if "@" not in netloc:
        raise ZaloUrlError(f"zalo:// URL has no access token: put the OA access token before '@' ({FORM})")
    raw_token, _, oa = netloc.rpartition("@")
    app_id = secret = ""
    if ":" in raw_token:  # app id and secret key: camsvc refreshes the access token
        raw_app, _, raw_secret = raw_token.partition(":")
        app_id, secret = unquote(raw_app), unquote(raw_secret)
        if not re.fullmatch(r"[0-9]{1,32}", app_id):
            raise ZaloUrlError(f"zalo:// URL: before ':' comes the Zalo app id (digits) ({FORM_REFRESH})")
        if not secret or re.search(r"\s", secret):
            raise ZaloUrlError(
                f"zalo:// URL: the app secret key after ':' is empty or holds spaces ({FORM_REFRESH})"
            )
        token = ""
    else:
        token = unquote(raw_token)
        if not token:
            raise ZaloUrlError(f"zalo:// URL has an empty access token before '@' ({FORM})")
        if re.search(r"\s", token):
            raise ZaloUrlError("zalo:// URL: the access token holds spaces (paste it exactly as issued)")
    if not oa:
        raise ZaloUrlError(f"zalo:// URL has nothing after '@': give the OA id, or the word 'oa' ({FORM})")
    if not _OA_RE.match(oa):
        raise ZaloUrlError("zalo:// URL: after '@' comes the OA id (digits) or 'oa', nothing else")
    users = tuple(unquote(p).strip() for p in path.split("/") if p.strip())
    if not users:
        raise ZaloUrlError(
            f"zalo:// URL names no recipient: add the Zalo user id of each person after the OA ({FORM})"
        )
    for u in users:
        if not _USER_RE.match(u):
            raise ZaloUrlError(
                f"zalo:// URL: recipient {u[:40]!r} is not a Zalo user id (the digits Zalo gives a follower "
                "of the OA, e.g. 2468458835296117922; not a phone number or name)"
            )
    if len(set(users)) != len(users):
        raise ZaloUrlError("zalo:// URL names the same recipient twice")
    endpoint, custom = DEFAULT_ENDPOINT, False
    oauth, custom_oauth = DEFAULT_OAUTH, False
    refresh = ""
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "endpoint":
            endpoint, custom = _check_endpoint(value), True
        elif key == "oauth":
            oauth, custom_oauth = _check_endpoint(value, "oauth"), True
        elif key == "refresh_token":
            refresh = value.strip()
        else:
            raise ZaloUrlError(
                f"zalo:// URL: unknown option {key[:40]!r} (known: endpoint, refresh_token, oauth)"
            )
    if app_id and not refresh:
        raise ZaloUrlError(f"zalo:// URL with an app id needs ?refresh_token=... ({FORM_REFRESH})")
    if refresh and not app_id:
        raise ZaloUrlError(
            f"zalo:// URL: a refresh_token needs the app id and secret key before '@' ({FORM_REFRESH})"
        )
    return ZaloTarget(token, oa, users, endpoint, custom, app_id, secret, refresh, oauth, custom_oauth)


def _check_endpoint(value: str, name: str = "endpoint") -> str:
    value = value.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ZaloUrlError(f"zalo:// URL: {name} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ZaloUrlError(f"zalo:// URL: {name} must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ZaloUrlError(f"zalo:// URL: {name} must not hold credentials (the token goes before '@')")
    return value


def redacted(url: str) -> str:
    """The URL with the token masked; recipients, OA and endpoint shown. Unparseable: only the scheme."""
    try:
        t = parse(url)
    except ZaloUrlError:
        return f"{SCHEME}://****"
    who = f"{t.app_id}:****" if t.refreshing else "****"
    out = f"{SCHEME}://{who}@{t.oa}/" + "/".join(t.users)
    query = []
    if t.refreshing:
        query.append("refresh_token=****")
    if t.custom_endpoint:
        query.append("endpoint=" + quote(t.endpoint, safe=":/"))
    if t.custom_oauth:
        query.append("oauth=" + quote(t.oauth, safe=":/"))
    return out + ("?" + "&".join(query) if query else "")


def secrets_of(url: str) -> tuple[str, ...]:
    """The access token, or the app secret key and refresh token (as written and decoded): what must never
    appear in a log line or an error. Tokens camsvc obtains later are added to the log filter when issued."""
    url = (url or "").strip()
    rest = url[len(SCHEME) + 3 :]
    netloc = rest.partition("/")[0].partition("?")[0]
    raw = netloc.rpartition("@")[0] if "@" in netloc else ""
    found = {raw.partition(":")[2]} if ":" in raw else {raw}
    for key, value in parse_qsl(rest.partition("?")[2]):
        if key == "refresh_token":
            found.add(value)
    out = set()
    for f in found:
        out.update({f, unquote(f)})
    return tuple(x for x in out if len(x) >= 3)


# ------------------------------------------------------------------------------------- text (pure)
def compose(title: str, body: str, drop_lines: tuple[str, ...] = ()) -> str:
    """One plain-text message: the subject line, a blank line, the body. Zalo CS text renders no markup.
    ``drop_lines`` (e.g. "Latest picture attached.", Zalo gets no attachment) are left out."""
    lines = [ln for ln in (body or "").splitlines() if ln.strip() not in drop_lines]
    text = "\n".join(lines).strip()
    title = (title or "").strip()
    return f"{title}\n\n{text}" if title and text else (title or text)


def split_text(text: str, limit: int = TEXT_LIMIT, max_parts: int = MAX_PARTS) -> list[str]:
    """Cut *text* into Zalo-sized messages at line ends, each marked ``(i/n)``; a single line longer than a
    message is cut inside. More than ``max_parts``: the last part ends with ``…`` (the rest is left out)."""
    if len(text) <= limit:
        return [text]
    room = limit - len(f"({max_parts}/{max_parts}) ") - 2
    chunks: list[str] = []
    cur = ""
    for line in text.split("\n"):
        while len(line) > room:  # an overlong line: cut it
            if cur:
                chunks.append(cur)
                cur = ""
            chunks.append(line[:room])
            line = line[room:]
        candidate = f"{cur}\n{line}" if cur else line
        if len(candidate) > room:
            chunks.append(cur)
            cur = line
        else:
            cur = candidate
    if cur:
        chunks.append(cur)
    chunks = [c for c in chunks if c.strip()]
    if len(chunks) > max_parts:
        last = chunks[max_parts - 1]
        chunks = chunks[: max_parts - 1] + [last[: room - 2].rstrip() + "\n…"]
    n = len(chunks)
    return [f"({i}/{n}) {c}" for i, c in enumerate(chunks, 1)]


def describe_answer(status: int, payload: Any, *, refreshing: bool = False) -> str | None:
    """``None`` when Zalo accepted the message, else the failure in words (no secrets: Zalo's answer does not
    echo the token, and channels.py scrubs the text anyway)."""
    if not isinstance(payload, dict):
        return f"HTTP {status}: the answer is not Zalo's JSON"
    code = payload.get("error")
    message = str(payload.get("message") or "").strip()[:200]
    if code is None:
        return f"HTTP {status}: the answer has no 'error' field" + (f" ({message})" if message else "")
    try:
        code = int(code)
    except (TypeError, ValueError):
        return f"HTTP {status}: unexpected 'error' value in the answer"
    if code == 0 and 200 <= status < 300:
        return None
    text = f"Zalo error {code}" + (f": {message}" if message else "")
    if code in TOKEN_ERRORS and refreshing:
        text += (
            " (Zalo refused an access token camsvc had just refreshed: check that the app is linked to the OA "
            "and has its message permission)"
        )
    elif code in TOKEN_ERRORS:
        text += (
            " (the OA access token is invalid or expired: it lasts about 25 hours; put a fresh one in the "
            "channel URL, or let camsvc refresh it)"
        )
    elif code in RATE_ERRORS:
        text += " (Zalo's rate limit: the message is retried later)"
    if not 200 <= status < 300:
        text = f"HTTP {status}, {text}"
    return text


# ------------------------------------------------------------------------------- access token refresh
class TokenStore(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...
    def put(self, key: str, value: dict[str, Any]) -> None: ...


class DbTokenStore:
    """Token pairs in ``AlertKV`` (encrypted at rest), one row per Zalo app: ``zalo:<app id>``."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def get(self, key: str) -> dict[str, Any] | None:
        from sqlmodel import Session

        from camsvc.alerts.models import AlertKV

        with Session(self.engine) as s:
            row = s.get(AlertKV, key)
            try:
                return dict(json.loads(row.value)) if row is not None else None
            except ValueError:
                return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        from camsvc.alerts.models import AlertKV
        from camsvc.db import session_scope

        with session_scope(self.engine) as s:
            row = s.get(AlertKV, key) or AlertKV(key=key, value="")
            row.value = json.dumps(value)
            s.add(row)


_store: TokenStore | None = None
_store_lock = threading.Lock()
_app_locks: dict[str, threading.Lock] = {}


def use_engine(engine: Engine | None) -> None:
    """Keep refreshed tokens in this database (the dispatcher's). ``None``: back to the default."""
    global _store
    _store = DbTokenStore(engine) if engine is not None else None


def _token_store() -> TokenStore:
    """The store :func:`use_engine` set. There is no guessing: a database other than the dispatcher's would
    lose the rotated refresh token, and with it the channel."""
    with _store_lock:
        if _store is None:
            raise RefreshFailed(
                "access token refresh needs the service's database, and none was given to the Zalo channel "
                "(camsvc.alerts.zalo.use_engine); put an access token in the URL instead"
            )
        return _store


def _seed(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16]


class RefreshFailed(Exception):
    """Zalo would not issue a new access token; the message says why, without secrets."""


def parse_refresh_answer(status: int, payload: Any) -> tuple[str, str, float]:
    """Pure: (access token, refresh token, seconds valid) from Zalo's OAuth answer, else RefreshFailed."""
    if isinstance(payload, dict) and payload.get("access_token") and payload.get("refresh_token"):
        try:
            expires = float(payload.get("expires_in") or 90000)
        except (TypeError, ValueError):
            expires = 90000.0
        return str(payload["access_token"]), str(payload["refresh_token"]), expires
    if isinstance(payload, dict):
        code = payload.get("error")
        what = str(
            payload.get("error_description") or payload.get("error_name") or payload.get("message") or ""
        )
        detail = f"Zalo error {code}" if code is not None else f"HTTP {status}"
        raise RefreshFailed(
            f"access token refresh failed: {detail}{': ' + what[:200] if what else ''} (the refresh token may be "
            "used up or older than 3 months: get a new one from the Zalo app and put it in the channel URL)"
        )
    raise RefreshFailed(f"access token refresh failed: HTTP {status}, the answer is not Zalo's JSON")


def _refresh(client: Any, target: ZaloTarget, refresh_token: str, timeout_s: float) -> tuple[str, str, float]:
    import httpx

    host = urlsplit(target.oauth).netloc
    try:
        r = client.post(
            target.oauth,
            data={"app_id": target.app_id, "grant_type": "refresh_token", "refresh_token": refresh_token},
            headers={"secret_key": target.secret_key},
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
        )
    except httpx.TimeoutException:
        raise RefreshFailed(f"access token refresh: no answer from {host} in time") from None
    except httpx.HTTPError as exc:
        raise RefreshFailed(f"access token refresh: cannot reach {host} ({type(exc).__name__})") from None
    try:
        payload: Any = r.json()
    except ValueError:
        payload = None
    return parse_refresh_answer(r.status_code, payload)


def access_token(client: Any, target: ZaloTarget, timeout_s: float, *, force: bool = False) -> str:
    """The access token to send with: the URL's, or (refreshing) the stored one while it has more than
    :data:`REFRESH_MARGIN_S` left, else a new one from Zalo, stored with its new refresh token at once."""
    if not target.refreshing:
        return target.token
    from camsvc.logs import add_secrets

    key = f"zalo:{target.app_id}"
    with _store_lock:
        lock = _app_locks.setdefault(key, threading.Lock())
    with lock:  # one refresh at a time per app in this process: a refresh token can be used once only
        store = _token_store()
        try:
            rec = store.get(key)
        except Exception as exc:
            raise RefreshFailed(f"access token store unreadable ({type(exc).__name__})") from None
        seed = _seed(target.refresh_token)
        if rec is None or rec.get("seed") != seed:  # first use, or a new refresh token pasted into the URL
            rec = {"seed": seed, "refresh": target.refresh_token, "access": "", "expires": 0.0}
        add_secrets([rec["refresh"], rec["access"]])
        if not force and rec["access"] and float(rec["expires"]) - time.time() > REFRESH_MARGIN_S:
            return str(rec["access"])
        stale = rec.get("access")
        try:
            access, refresh, expires_in = _refresh(client, target, str(rec["refresh"]), timeout_s)
        except RefreshFailed:
            try:  # another process may have refreshed with the same token just now
                again = store.get(key)
            except Exception:
                again = None
            if again and again.get("seed") == seed and again.get("access") not in ("", stale):
                add_secrets([again["refresh"], again["access"]])
                return str(again["access"])
            raise
        add_secrets([access, refresh])
        rec.update(access=access, refresh=refresh, expires=time.time() + expires_in, refreshed=time.time())
        try:
            store.put(key, rec)
        except Exception as exc:  # the old refresh token is used up: say so loudly, keep sending meanwhile
            log.error(
                "zalo app %s: the new refresh token could not be saved (%s); after a restart the channel "
                "needs a new refresh token in its URL",
                target.app_id,
                type(exc).__name__,
            )
        log.info("zalo app %s: access token refreshed (valid %.0f h)", target.app_id, expires_in / 3600)
        return access


# ------------------------------------------------------------------------------------------ sending
Check = Callable[[str], None]


def send(
    url: str,
    title: str,
    body: str,
    *,
    timeout_s: float = 20.0,
    drop_lines: tuple[str, ...] = (),
    check_endpoint: Check | None = None,
) -> tuple[bool, str | None]:
    """Send to every recipient of the URL, in order, each message in Zalo-sized parts. True only when Zalo
    accepted every part for every recipient; else the error names the recipients that failed. Raises
    :class:`ZaloUrlError` for a bad URL. ``check_endpoint(url)`` (the network policy) runs first for each
    custom endpoint (message, OAuth) and raises ValueError to refuse it. Refreshing URLs get their access
    token from :func:`access_token`; one that Zalo calls invalid is refreshed once and the message sent again."""
    import httpx

    target = parse(url)
    for endpoint in target.endpoints():
        try:
            if check_endpoint is not None:
                check_endpoint(endpoint)
        except ValueError as exc:
            return False, f"zalo:// endpoint {exc}"
    parts = split_text(compose(title, body, drop_lines))
    deadline = time.monotonic() + timeout_s
    host = urlsplit(target.endpoint).netloc
    errors: list[str] = []

    token = target.token

    def joined() -> str:  # a relay echoing the header back must not put a refreshed token in the record
        text = "; ".join(errors)
        return text.replace(token, "***") if len(token) >= 3 else text

    def fail(text: str) -> tuple[bool, str]:
        errors.append(text)
        return False, joined()

    with httpx.Client(follow_redirects=False, trust_env=False) as client:
        try:
            token = access_token(client, target, max(0.1, deadline - time.monotonic()))
        except RefreshFailed as exc:
            return fail(str(exc))
        refreshed = False
        for user in target.users:
            for i, text in enumerate(parts, 1):
                where = f"user {user}" + (f" part {i}/{len(parts)}" if len(parts) > 1 else "")
                payload = {"recipient": {"user_id": user}, "message": {"text": text}}
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0.05:
                        return fail(f"{where}: timed out (attempt budget {timeout_s:.0f} s used)")
                    try:
                        r = client.post(
                            target.endpoint,
                            json=payload,
                            headers={"access_token": token, "Content-Type": "application/json"},
                            timeout=httpx.Timeout(left, connect=min(left, 10.0)),
                        )
                    except httpx.TimeoutException:
                        return fail(f"{where}: no answer from {host} in time")
                    except httpx.HTTPError as exc:  # refused, DNS, reset: unreachable for every recipient
                        return fail(f"{where}: cannot reach {host} ({type(exc).__name__}: {_short(exc)})")
                    try:
                        answer: Any = r.json()
                    except ValueError:
                        answer = None
                    code = answer.get("error") if isinstance(answer, dict) else None
                    if code in TOKEN_ERRORS and target.refreshing and not refreshed:
                        refreshed = True  # Zalo revoked it early, or the clock is off: one new token, once
                        try:
                            token = access_token(client, target, max(0.1, left), force=True)
                        except RefreshFailed as exc:
                            return fail(f"{where}: {describe_answer(r.status_code, answer)}; {exc}")
                        continue
                    break
                problem = describe_answer(r.status_code, answer, refreshing=target.refreshing)
                if problem is None:
                    continue
                if answer is None and not 200 <= r.status_code < 300:
                    problem = f"HTTP {r.status_code} from {host}"
                if code in TOKEN_ERRORS or r.status_code >= 500:
                    return fail(f"{where}: {problem}")  # the same for every recipient: stop here
                errors.append(f"{where}: {problem}")
                break  # this recipient's remaining parts would not make sense alone
    return (not errors), (joined() or None)


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "no detail"
