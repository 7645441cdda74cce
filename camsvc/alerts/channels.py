"""Channels are Apprise URLs: e-mail (mailto://, mailtos://), Telegram (tgram://), JSON webhooks (json://),
ntfy (ntfy://), SMS gateways and everything else Apprise supports; and ``zalo://`` (Zalo Official Account),
which Apprise lacks and camsvc sends itself (:mod:`camsvc.alerts.zalo`). Every function here takes either.

Channel URLs hold secrets (tokens, SMTP passwords). Only :func:`send` ever sees the raw URL; everything shown
to people or logs goes through :func:`redacted` (Apprise's own privacy rendering, which knows each service's
secret parts) and error texts through :func:`scrub`.
"""

from __future__ import annotations

import inspect
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from camsvc import netpolicy
from camsvc.alerts import messages, zalo
from camsvc.logs import add_secrets
from camsvc.redact import redact_text, redact_url

log = logging.getLogger(__name__)

ERROR_MAX = 500


class InvalidChannel(ValueError):
    """The URL is not one Apprise can use; the message names the scheme only, never the secrets."""


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes
    mimetype: str = "image/jpeg"


@dataclass(frozen=True)
class SendOutcome:
    ok: bool
    error: str | None = None
    duration_ms: float = 0.0


def _apprise() -> Any:
    import apprise

    return apprise


def _plugin(url: str) -> Any:
    apprise = _apprise()
    # Apprise logs "Unparseable URL <url>" at error level for bad input: keep secrets out of our logs.
    alog = logging.getLogger("apprise")
    old = alog.disabled
    alog.disabled = True
    try:
        return apprise.Apprise.instantiate(url)
    except Exception:
        return None
    finally:
        alog.disabled = old


def _scheme(url: str) -> str:
    head, sep, _ = url.partition("://")
    return head.lower() if sep and re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.-]*", head) else ""


def check_url(url: str) -> str:
    """Return the stripped URL if Apprise can use it; else raise InvalidChannel naming the problem."""
    url = (url or "").strip()
    scheme = _scheme(url)
    if not scheme:
        raise InvalidChannel(
            "channel must be an Apprise URL such as mailto://, tgram://, json://, ntfy://, or zalo://"
        )
    if scheme == zalo.SCHEME:
        try:
            for endpoint in zalo.parse(url).endpoints():  # a relay / test endpoint: on an allowed network
                netpolicy.check_url(endpoint)
        except zalo.ZaloUrlError as exc:
            raise InvalidChannel(str(exc)) from None
        except netpolicy.Refused as exc:
            raise InvalidChannel(f"zalo:// channel endpoint {exc}") from None
        return url
    if _plugin(url) is None:
        raise InvalidChannel(
            f"Apprise cannot use this {scheme}:// URL (unknown service, or a required part is missing "
            "or malformed: check host, token, recipient)"
        )
    netpolicy.check_webhook(url, error=InvalidChannel)  # webhook hosts must be on an allowed network
    return url


def redacted(url: str) -> str:
    """The URL with every secret masked (Apprise's privacy view of the service)."""
    if _scheme(url) == zalo.SCHEME:
        return zalo.redacted(url)
    plugin = _plugin(url)
    if plugin is None:
        return redact_url(url)
    try:
        return str(plugin.url(privacy=True))
    except Exception:  # pragma: no cover - a plugin bug must not leak the URL
        return redact_url(url)


def service_name(url: str) -> str:
    if _scheme(url) == zalo.SCHEME:
        return zalo.SERVICE_NAME
    plugin = _plugin(url)
    return str(getattr(plugin, "service_name", "") or _scheme(url)) if plugin is not None else _scheme(url)


def supports_attachments(url: str) -> bool:
    if _scheme(url) == zalo.SCHEME:
        return False  # text messages only (a picture needs Zalo's upload API first: not done)
    plugin = _plugin(url)
    return bool(getattr(plugin, "attachment_support", False)) if plugin is not None else False


@cache
def secrets_of(url: str) -> tuple[str, ...]:
    """Parts of the URL that must never appear in text: the password, and every token Apprise masks."""
    out: set[str] = set()
    if _scheme(url) == zalo.SCHEME:
        return tuple(sorted(zalo.secrets_of(url), key=len, reverse=True))
    try:
        parts = urlsplit(url)
        if parts.password:
            out.add(unquote(parts.password))
        shown = unquote(redacted(url))
        tokens = re.split(r"[:@]+", unquote(parts.netloc)) + re.split(r"[/,;]+", unquote(parts.path))
        tokens += [v for _, v in parse_qsl(parts.query)]  # values only: keys are not secret
        for tok in tokens:
            if len(tok) >= 4 and tok not in shown:
                out.add(tok)
    except ValueError:
        pass
    return tuple(sorted(out, key=len, reverse=True))


def scrub(text: str, url: str) -> str:
    """Free text (an error) with the channel's secrets and any URL credentials removed."""
    return redact_text(text, secrets_of(url))[:ERROR_MAX]


@cache
def _notify_has_timeout() -> bool:
    return "timeout" in inspect.signature(_apprise().Apprise.notify).parameters


def send(
    url: str,
    title: str,
    body: str,
    *,
    attachments: Sequence[Attachment] = (),
    timeout_s: float = 20.0,
) -> SendOutcome:
    """Send one message through one channel. Never raises; the error text is scrubbed of secrets."""
    apprise = _apprise()
    started = time.monotonic()

    def done(ok: bool, error: str | None = None) -> SendOutcome:
        return SendOutcome(ok, scrub(error, url) if error else None, (time.monotonic() - started) * 1000.0)

    if _scheme(url) == zalo.SCHEME:
        return done(*_send_zalo(url, title, body, timeout_s))
    try:
        netpolicy.check_webhook(url, at_delivery=True)  # resolved again: DNS may have changed since
        ap = apprise.Apprise()
        if not ap.add(url):
            return done(False, f"invalid channel URL for {_scheme(url) or 'unknown'}://")
        attach = None
        if attachments:
            from apprise.attachment.memory import AttachMemory

            attach = apprise.AppriseAttachment()
            for a in attachments:
                attach.add(AttachMemory(content=a.data, name=a.name, mimetype=a.mimetype))
        if _notify_has_timeout():
            result = ap.notify(body=body, title=title, attach=attach, timeout=timeout_s)
            if bool(result):
                return done(True)
            return done(False, _error_from(result))
        with apprise.LogCapture(level=logging.WARNING) as captured:  # apprise < 2
            ok = bool(ap.notify(body=body, title=title, attach=attach))
        return done(ok, None if ok else (captured.getvalue().strip().splitlines() or ["failed"])[-1])
    except Exception as exc:  # a plugin bug: record it as this attempt's failure
        return done(False, f"{type(exc).__name__}: {exc}")


def _send_zalo(url: str, title: str, body: str, timeout_s: float) -> tuple[bool, str | None]:
    add_secrets(secrets_of(url))  # "send a test" comes here without the dispatcher's registration

    def at_delivery(endpoint: str) -> None:  # resolved again now: DNS may have changed since saving
        netpolicy.check_url(endpoint, unresolvable_ok=False)

    try:
        return zalo.send(
            url,
            title,
            body,
            timeout_s=timeout_s,
            drop_lines=(messages.t("thumb", "vi"), messages.t("thumb", "en")),  # no picture goes to Zalo
            check_endpoint=at_delivery,
        )
    except zalo.ZaloUrlError as exc:
        return False, str(exc)
    except Exception as exc:  # a bug or the token store: this attempt's failure, scrubbed by the caller
        log.exception("zalo:// send crashed")
        return False, f"internal error: {type(exc).__name__}"


def _error_from(result: Any) -> str:
    status = getattr(getattr(result, "status", None), "name", "FAILURE")
    picked: list[str] = []
    try:
        for entry in result.logs():
            msg = str(entry.message).strip()
            wanted = entry.level in ("WARNING", "ERROR", "CRITICAL") or (
                entry.level == "DEBUG" and re.search(r"(?i)exception|error|refused|timed out|response", msg)
            )
            if wanted and msg and msg not in picked:
                picked.append(msg)
    except Exception:  # pragma: no cover - logs are best effort
        pass
    text = "; ".join(picked[-4:])
    if status == "TIMEOUT":
        return f"timed out{': ' + text if text else ''}"
    return text or status.lower()
