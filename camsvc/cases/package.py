"""The evidence package: a zip of the case's clips, ``manifest.json``, its Ed25519 signature
``manifest.sig`` (base64), ``public_key.pem``, a printable bilingual ``manifest.html`` and ``README.txt``.

Layout (docs/recording.md)::

    manifest.json     what is in the package (case, clips, every file's sha256 and size), signed
    manifest.sig      base64 Ed25519 signature over the exact bytes of manifest.json
    public_key.pem    the service's public key (its fingerprint is in manifest.json)
    manifest.html     the manifest for print, Vietnamese and English, times in Asia/Ho_Chi_Minh
    README.txt        how to verify without camsvc
    clips/NN-<camera>-<start>.mp4   one MP4 per camera (stored, not compressed)

The manifest's ``clips`` list each clip's file with its sha256 and size; ``files`` lists every other file
except manifest.json and manifest.sig (which the signature covers). Building the manifest, the HTML and the
README is pure (``manifest_dict``, ``render_html``, ``readme_text``); ``write_package`` does the I/O, hashing
each clip in the same pass that copies it into the zip.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from camsvc import __version__, timefmt
from camsvc.cases.signing import SigningKey, grouped

FORMAT = "camsvc-evidence-package"
VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public_key.pem"
HTML = "manifest.html"
README = "README.txt"
SIGNED_FILES = frozenset({MANIFEST, SIGNATURE})  # not listed in the manifest: the signature covers them
CHUNK = 1024 * 1024

Progress = Callable[[float, str], None]


def iso(t: dt.datetime | None) -> str | None:
    """Aware UTC ISO-8601 with Z and milliseconds (naive is taken as UTC)."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clip_file_name(index: int, camera_id: str, start: dt.datetime) -> str:
    """``clips/01-cam-001-20261201T141000Z.mp4`` (camera ids are [A-Za-z0-9_.-])."""
    safe = "".join(c if c.isalnum() or c in "_.-" else "_" for c in camera_id)
    return f"clips/{index:02d}-{safe}-{start.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}.mp4"


@dataclass
class PackageClip:
    """One clip going into a package: its manifest entry (camera, ranges, source, segments, gaps, status,
    detail; ``file``/``sha256``/``size`` are filled in while writing) and the MP4 on disk (None: no footage).
    ``expected_sha256`` (from materialisation) is checked against what is copied: a clip changed on disk
    since it was made stops the export."""

    entry: dict[str, Any]
    path: Path | None = None
    expected_sha256: str | None = None


@dataclass
class PackageResult:
    path: Path
    size: int
    sha256: str
    manifest: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- pure parts
def manifest_dict(
    *,
    case: dict[str, Any],
    clips: Sequence[dict[str, Any]],
    files: Sequence[dict[str, Any]],
    requested_by: str,
    exported_at: dt.datetime,
    key_fingerprint: str,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "generator": f"camsvc {__version__}",
        "case": case,
        "requested_by": requested_by,
        "exported_at": iso(exported_at),
        "timezone_shown": timefmt.DEFAULT_TZ,
        "signature": {
            "algorithm": "Ed25519",
            "file": SIGNATURE,
            "signed": MANIFEST,
            "public_key": PUBLIC_KEY,
            "key_fingerprint": key_fingerprint,
            "fingerprint_of": "sha256 of the raw 32-byte public key",
        },
        "clips": list(clips),
        "files": list(files),
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")


def _local(value: str | None) -> str:
    if not value:
        return ""
    return timefmt.local_str(timefmt.parse_utc(value), fmt="%Y-%m-%d %H:%M:%S")


_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_ENV.filters["local"] = _local
_ENV.filters["grouped"] = grouped

_HTML_TEMPLATE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<title>Hồ sơ vụ việc {{ m.case.number }} / Case {{ m.case.number }}</title>
<style>
body { font-family: sans-serif; font-size: 11pt; margin: 2em; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5em; }
th, td { border: 1px solid #888; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #eee; width: 28%; }
code { font-size: 9pt; word-break: break-all; }
h2 { page-break-before: auto; margin-top: 1.5em; }
.en { color: #444; font-style: italic; }
</style></head><body>
<h1>Biên bản trích xuất dữ liệu hình ảnh <span class="en">/ Video evidence export record</span></h1>
<p>Giờ hiển thị theo {{ m.timezone_shown }} (UTC+7). <span class="en">Times shown in {{ m.timezone_shown }}
(UTC+7); manifest.json holds them in UTC.</span></p>
<table>
<tr><th>Số vụ việc <span class="en">/ Case number</span></th><td>{{ m.case.number }}</td></tr>
<tr><th>Tên vụ việc <span class="en">/ Title</span></th><td>{{ m.case.title }}</td></tr>
<tr><th>Lý do <span class="en">/ Reason</span></th><td>{{ m.case.reason }}</td></tr>
<tr><th>Người lập vụ việc <span class="en">/ Case created by</span></th><td>{{ m.case.created_by }}</td></tr>
<tr><th>Người yêu cầu trích xuất <span class="en">/ Export requested by</span></th>
<td>{{ m.requested_by }}</td></tr>
<tr><th>Thời điểm trích xuất <span class="en">/ Exported at</span></th>
<td>{{ m.exported_at | local }} ({{ m.exported_at }})</td></tr>
<tr><th>Dấu vân tay khóa ký <span class="en">/ Signing key fingerprint</span></th>
<td><code>{{ m.signature.key_fingerprint | grouped }}</code></td></tr>
</table>
{% for c in m.clips %}
<h2>Đoạn {{ loop.index }} <span class="en">/ Clip {{ loop.index }}</span>: {{ c.camera.name }}
({{ c.camera.id }})</h2>
<table>
<tr><th>Camera</th><td>{{ c.camera.name }} ({{ c.camera.id }}, {{ c.camera.kind }})</td></tr>
<tr><th>Vị trí <span class="en">/ Location</span></th><td>{{ c.camera.hamlet }}{% if c.camera.address %},
{{ c.camera.address }}{% endif %}{% if c.camera.latitude is not none %}
({{ c.camera.latitude }}, {{ c.camera.longitude }}){% endif %}</td></tr>
<tr><th>Khoảng thời gian yêu cầu <span class="en">/ Requested</span></th>
<td>{{ c.requested.start | local }} → {{ c.requested.end | local }}</td></tr>
<tr><th>Khoảng thời gian thực tế <span class="en">/ Actual</span></th>
<td>{% if c.actual %}{{ c.actual.start | local }} → {{ c.actual.end | local }}{% else %}—{% endif %}</td></tr>
<tr><th>Nguồn <span class="en">/ Source</span></th><td>{% if c.source == "device" %}Bộ nhớ của camera
<span class="en">/ camera's own storage (playback)</span>{% else %}Ghi hình của hệ thống
<span class="en">/ recorded by camsvc</span>{% endif %}</td></tr>
{% if c.status != "ready" %}<tr><th>Không có dữ liệu <span class="en">/ No footage</span></th>
<td>{{ c.status }}: {{ c.detail or "" }}</td></tr>{% endif %}
{% if c.file %}<tr><th>Tệp <span class="en">/ File</span></th><td><code>{{ c.file }}</code></td></tr>
<tr><th>SHA-256</th><td><code>{{ c.sha256 }}</code></td></tr>
<tr><th>Dung lượng <span class="en">/ Size</span></th><td>{{ c.size }} bytes</td></tr>{% endif %}
<tr><th>Khoảng trống <span class="en">/ Gaps</span></th><td>{% for g in c.gaps %}{{ g.start | local }} →
{{ g.end | local }}<br>{% else %}Không có <span class="en">/ none</span>{% endfor %}</td></tr>
{% if c.segments %}<tr><th>Tệp ghi gốc <span class="en">/ Source segments</span></th><td>
{% for s in c.segments %}<code>{{ s.path }}</code> {{ s.start | local }} → {{ s.end | local }},
{{ s.size }} bytes, sha256 <code>{{ s.sha256 }}</code><br>{% endfor %}</td></tr>{% endif %}
{% if c.playback_url %}<tr><th>Địa chỉ phát lại <span class="en">/ Playback URL</span></th>
<td><code>{{ c.playback_url }}</code></td></tr>{% endif %}
</table>
{% endfor %}
<h2>Kiểm tra <span class="en">/ Verification</span></h2>
<p>Xem README.txt. <span class="en">See README.txt: the signature in manifest.sig covers manifest.json,
which lists the SHA-256 of every file.</span></p>
</body></html>
"""


def render_html(manifest: dict[str, Any]) -> str:
    return _ENV.from_string(_HTML_TEMPLATE).render(m=manifest)


def readme_text(manifest: dict[str, Any]) -> str:
    fp = manifest["signature"]["key_fingerprint"]
    return f"""camsvc evidence package: case {manifest["case"]["number"]}
Exported {manifest["exported_at"]} (UTC) for {manifest["requested_by"]}.

Contents
  manifest.json   the signed list of everything in this package (UTC times, SHA-256 and size of every file)
  manifest.sig    Ed25519 signature over the exact bytes of manifest.json, base64
  public_key.pem  the signing service's public key
  manifest.html   the same manifest for print (Vietnamese and English, Asia/Ho_Chi_Minh time)
  clips/*.mp4     one MP4 per camera, the stream copied (never re-encoded)

Signing key fingerprint (sha256 of the raw 32-byte Ed25519 public key):
  {grouped(fp)}
Compare it with the fingerprint the service shows on its settings page (or that you were given apart
from this package): a package re-signed by someone else carries another key.

Verify with camsvc:  camsvc verify PACKAGE.zip --key TRUSTED_PUBLIC_KEY.pem

Verify without camsvc (unzip, then in the unzipped folder):
  1. The hashes: every file listed in manifest.json ("clips" and "files") with its sha256, e.g.
       sha256sum clips/*.mp4 manifest.html public_key.pem README.txt
     and compare with the values in manifest.json. No other file than manifest.json and manifest.sig
     should be present.
  2. The signature (Python 3 with the 'cryptography' package):

python3 - <<'EOF'
import base64, hashlib, json
from cryptography.hazmat.primitives import serialization
manifest = open("manifest.json", "rb").read()
key = serialization.load_pem_public_key(open("public_key.pem", "rb").read())
key.verify(base64.b64decode(open("manifest.sig", "rb").read()), manifest)  # raises if it fails
raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
print("signature OK, key fingerprint", hashlib.sha256(raw).hexdigest())
m = json.loads(manifest)
for f in [c for c in m["clips"] if c.get("file")] + m["files"]:
    name = f.get("file") or f["name"]
    h = hashlib.sha256(open(name, "rb").read()).hexdigest()
    print("OK  " if h == f["sha256"] else "BAD ", name)
EOF
"""


# ---------------------------------------------------------------------------------------------- I/O
def _zinfo(name: str, when: dt.datetime, compress: int) -> zipfile.ZipInfo:
    t = when.astimezone(dt.UTC)
    info = zipfile.ZipInfo(name, date_time=(t.year, t.month, t.day, t.hour, t.minute, t.second))
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


def _copy_into(zf: zipfile.ZipFile, name: str, src: Path, when: dt.datetime) -> tuple[str, int]:
    """Copy *src* into the zip as *name* (stored), hashing the same bytes; (sha256, size)."""
    h = hashlib.sha256()
    size = 0
    with src.open("rb") as fin, zf.open(_zinfo(name, when, zipfile.ZIP_STORED), "w", force_zip64=True) as out:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _add_text(zf: zipfile.ZipFile, name: str, data: bytes, when: dt.datetime) -> dict[str, Any]:
    zf.writestr(_zinfo(name, when, zipfile.ZIP_DEFLATED), data)
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def write_package(
    out: Path,
    *,
    case: dict[str, Any],
    clips: Sequence[PackageClip],
    requested_by: str,
    exported_at: dt.datetime,
    key: SigningKey,
    progress: Progress | None = None,
) -> PackageResult:
    """Write the package to *out* (atomically: a temporary file renamed at the end)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    total = sum(c.path.stat().st_size for c in clips if c.path is not None) or 1
    done = 0
    entries: list[dict[str, Any]] = []
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for i, clip in enumerate(clips, start=1):
                entry = dict(clip.entry)
                if clip.path is not None:
                    name = clip_file_name(
                        i, entry["camera"]["id"], timefmt.parse_utc(entry["requested"]["start"])
                    )
                    if progress:
                        progress(0.9 * done / total, f"copying {name}")
                    digest, size = _copy_into(zf, name, clip.path, exported_at)
                    if clip.expected_sha256 and digest != clip.expected_sha256:
                        raise ValueError(
                            f"clip {clip.path.name} changed on disk since it was made "
                            f"(sha256 {digest}, expected {clip.expected_sha256})"
                        )
                    entry.update(file=name, sha256=digest, size=size)
                    done += size
                else:
                    entry.update(file=None, sha256=None, size=None)
                entries.append(entry)
            if progress:
                progress(0.9, "writing the manifest")
            fp = key.fingerprint
            draft = manifest_dict(
                case=case,
                clips=entries,
                files=[],
                requested_by=requested_by,
                exported_at=exported_at,
                key_fingerprint=fp,
            )
            files = [
                _add_text(zf, HTML, render_html(draft).encode("utf-8"), exported_at),
                _add_text(zf, README, readme_text(draft).encode("utf-8"), exported_at),
                _add_text(zf, PUBLIC_KEY, key.public_pem.encode("ascii"), exported_at),
            ]
            manifest = {**draft, "files": files}
            data = manifest_bytes(manifest)
            _add_text(zf, MANIFEST, data, exported_at)
            _add_text(zf, SIGNATURE, base64.b64encode(key.sign(data)) + b"\n", exported_at)
        if progress:
            progress(0.95, "hashing the package")
        digest, size = sha256_file(tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if progress:
        progress(1.0, "done")
    return PackageResult(path=out, size=size, sha256=digest, manifest=manifest)
