"""Real footage for the simulator, encoded once into the cache dir (never committed).

Sources: ``vtest.avi`` (real pedestrian street CCTV) and street photos from Debian's ``opencv-doc``
(fetched with ``apt-get download`` + ``dpkg -x`` when missing), and scikit-image's photographs. A handful of
scenes (different crops, mirrors, pans of the sources) are shared by cameras, which also start at different
moments of the loop. Each scene is encoded once with the imageio-ffmpeg binary into:

* ``main.h264``: 1280x720, 5 fps, ~1 Mbit/s, keyframe every 2 s, Annex-B with access unit delimiters
* ``sub.h264``:  640x360, 5 fps, 400 kbit/s
* ``jpeg/NNNNN.jpg``: 640x360 frames for the HTTP cameras (MJPEG, snapshots)

Picture-fault variants of ``main``/``sub`` (frozen, snow, ...) are encoded lazily, on first use. Encodes go
to a temporary name and are renamed into place under a file lock, so parallel simulators share the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from camsvc.paths import ffmpeg_exe
from camsvc.simulate.faults import RTSP_PICTURE_FILTERS

log = logging.getLogger(__name__)

FPS = 5
LOOP_S = 16  # base loop length (80 frames, 8 keyframe intervals)
FAULT_LOOP_S = 10  # fault variants are shorter: cheaper to encode
MAIN_SIZE = (1280, 720)
SUB_SIZE = (640, 360)
FOOTAGE_FILES = ("vtest.avi", "leuvenA.jpg", "leuvenB.jpg", "building.jpg")
_X264 = [
    "-an",
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-bf",
    "0",
    "-g",
    str(2 * FPS),
    "-sc_threshold",
    "0",
    "-pix_fmt",
    "yuv420p",
    "-x264-params",
    "aud=1",  # one access unit delimiter per frame: the RTSP server splits frames on it
]
_MAIN_RATE = ["-b:v", "1000k", "-maxrate", "1200k", "-bufsize", "2000k"]
_SUB_RATE = ["-b:v", "400k", "-maxrate", "480k", "-bufsize", "800k"]


@dataclass(frozen=True)
class Scene:
    name: str
    source: str  # a file in <cache>/footage, or "skimage:<file>"
    video: bool  # True: moving footage; False: a still photo panned slowly with sensor noise
    start_s: float = 0.0
    vf: str = ""  # crop/mirror/colour before scaling


SCENES: dict[str, Scene] = {
    s.name: s
    for s in (
        Scene("street-a", "vtest.avi", True, 0.0, "crop=768:432:0:72"),
        Scene("street-b", "vtest.avi", True, 22.0, "crop=600:338:168:210,hflip"),
        Scene("street-c", "vtest.avi", True, 48.0, "crop=640:360:60:40,eq=saturation=0.75:brightness=0.03"),
        Scene("yard-motorbike", "skimage:motorcycle_left.png", False),
        Scene("house-leuven-a", "leuvenA.jpg", False),
        Scene("house-leuven-b", "leuvenB.jpg", False, vf="hflip"),
        Scene("building", "building.jpg", False),
    )
}

# Bump when encoding changes: the cache key covers the recipe, so old encodes are simply not used.
_RECIPE = repr((FPS, LOOP_S, FAULT_LOOP_S, MAIN_SIZE, SUB_SIZE, _X264, _MAIN_RATE, _SUB_RATE, 2))


@dataclass(frozen=True)
class Clip:
    """One encoded stream file and the frame rate to serve it at."""

    path: Path
    fps: float


@dataclass(frozen=True)
class SceneFiles:
    main: Clip
    sub: Clip
    jpeg_dir: Path


def _recipe_hash(*parts: object) -> str:
    return hashlib.sha1(repr((_RECIPE, *parts)).encode()).hexdigest()[:10]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def _building(d: Path) -> Iterator[Path]:
    """A temporary directory beside *d* that replaces *d*, marked done, when the block succeeds."""
    tmp = Path(tempfile.mkdtemp(prefix=d.name + ".", dir=d.parent))
    try:
        yield tmp
        (tmp / "done").write_text(f"{time.time():.0f}\n")
        if d.exists():
            shutil.rmtree(d)
        tmp.rename(d)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _run_ffmpeg(args: list[str], what: str, timeout_s: float = 300) -> None:
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed for {what}: {proc.stderr.strip()[-800:]}")


# --- sources ---------------------------------------------------------------------------------------------


def footage_dir(cache_dir: Path) -> Path:
    return cache_dir / "footage"


def ensure_sources(cache_dir: Path) -> Path:
    """Make sure the real footage is in ``<cache>/footage``; fetch Debian's opencv-doc if it is not."""
    fdir = footage_dir(cache_dir)
    if all((fdir / n).is_file() for n in FOOTAGE_FILES):
        return fdir
    with _locked(cache_dir / "footage.lock"):
        if all((fdir / n).is_file() for n in FOOTAGE_FILES):
            return fdir
        log.info("footage missing in %s: fetching Debian's opencv-doc (about 96 MB, once)", fdir)
        fdir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="camsvc-opencv-doc-") as tmp:
            subprocess.run(["apt-get", "download", "opencv-doc"], cwd=tmp, check=True, timeout=900)
            debs = sorted(Path(tmp).glob("opencv-doc_*.deb"))
            if not debs:
                raise RuntimeError("apt-get download opencv-doc produced no .deb")
            root = Path(tmp) / "root"
            subprocess.run(["dpkg", "-x", str(debs[0]), str(root)], check=True, timeout=300)
            for name in FOOTAGE_FILES:
                found = _find_in_tree(root, name)
                if found is None:
                    raise RuntimeError(f"{name} not found in {debs[0].name}")
                _copy_maybe_gz(found, fdir / name)
    return fdir


def _find_in_tree(root: Path, name: str) -> Path | None:
    for cand in (name, name + ".gz"):
        hits = sorted(root.rglob(cand), key=lambda p: ("examples/data" not in str(p), len(str(p))))
        if hits:
            return hits[0]
    return None


def _copy_maybe_gz(src: Path, dst: Path) -> None:
    tmp = dst.with_name(dst.name + ".part")
    if src.suffix == ".gz":
        import gzip

        with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    else:
        shutil.copyfile(src, tmp)
    tmp.replace(dst)


def _source_path(scene: Scene, cache_dir: Path) -> Path:
    if scene.source.startswith("skimage:"):
        name = scene.source.split(":", 1)[1]
        spec = importlib.util.find_spec("skimage")
        if spec is not None and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
            if path.is_file():
                return path
        log.warning("scikit-image photo %s not available; scene %s uses building.jpg", name, scene.name)
        return footage_dir(cache_dir) / "building.jpg"
    return footage_dir(cache_dir) / scene.source


# --- scenes ----------------------------------------------------------------------------------------------


def scene_dir(cache_dir: Path, scene: str) -> Path:
    s = SCENES[scene]
    return cache_dir / "sim" / f"{scene}-{_recipe_hash(s)}"


def scene_files(cache_dir: Path, scene: str) -> SceneFiles:
    d = scene_dir(cache_dir, scene)
    return SceneFiles(Clip(d / "main.h264", FPS), Clip(d / "sub.h264", FPS), d / "jpeg")


def _scene_input(scene: Scene, cache_dir: Path) -> tuple[list[str], str]:
    src = _source_path(scene, cache_dir)
    w, h = MAIN_SIZE
    if scene.video:
        args = ["-ss", str(scene.start_s), "-t", str(LOOP_S), "-i", str(src)]
        chain = [f"fps={FPS}"] + ([scene.vf] if scene.vf else []) + [f"scale={w}:{h}", "setsar=1"]
    else:
        args = ["-loop", "1", "-framerate", str(FPS), "-t", str(LOOP_S), "-i", str(src)]
        # A fixed camera's slight sway (wind on the pole: about 1 % of the view) that returns to its start
        # at the loop's end, plus temporal sensor noise. A wider pan would be a camera turning away.
        pan = f"crop=w='iw*0.82':h='iw*0.82*9/16':x='(iw-ow)*(0.5+0.05*sin(2*PI*t/{LOOP_S}))':y='(ih-oh)/2'"
        chain = (
            [pan] + ([scene.vf] if scene.vf else []) + [f"scale={w}:{h}", "setsar=1", "noise=alls=5:allf=t"]
        )
    return args, ",".join(chain)


def ensure_scene(cache_dir: Path, scene: str) -> SceneFiles:
    """Encode *scene* into the cache unless it is there already."""
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; valid scenes: {', '.join(SCENES)}")
    files = scene_files(cache_dir, scene)
    d = files.jpeg_dir.parent
    if (d / "done").is_file():
        return files
    with _locked(d.with_name(d.name + ".lock")):
        if (d / "done").is_file():
            return files
        ensure_sources(cache_dir)
        t0 = time.monotonic()
        with _building(d) as tmp:
            (tmp / "jpeg").mkdir()
            in_args, chain = _scene_input(SCENES[scene], cache_dir)
            sw, sh = SUB_SIZE
            graph = f"[0:v]{chain},split=3[m][s0][j0];[s0]scale={sw}:{sh}[s];[j0]scale={sw}:{sh}[j]"
            _run_ffmpeg(
                [
                    *in_args,
                    "-filter_complex",
                    graph,
                    "-map",
                    "[m]",
                    *_X264,
                    *_MAIN_RATE,
                    "-f",
                    "h264",
                    str(tmp / "main.h264"),
                    "-map",
                    "[s]",
                    *_X264,
                    *_SUB_RATE,
                    "-f",
                    "h264",
                    str(tmp / "sub.h264"),
                    "-map",
                    "[j]",
                    "-q:v",
                    "5",
                    "-f",
                    "image2",
                    str(tmp / "jpeg" / "%05d.jpg"),
                ],
                f"scene {scene}",
            )
        log.info("encoded scene %s in %.1f s", scene, time.monotonic() - t0)
    return files


def ensure_scenes(cache_dir: Path, scenes: Iterable[str], workers: int = 2) -> dict[str, SceneFiles]:
    """Encode the given scenes (in parallel) and return their files."""
    names = sorted(set(scenes))
    if names:
        ensure_sources(cache_dir)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(zip(names, pool.map(lambda s: ensure_scene(cache_dir, s), names), strict=True))


def jpeg_frames(files: SceneFiles) -> list[bytes]:
    return [p.read_bytes() for p in sorted(files.jpeg_dir.glob("*.jpg"))]


# --- picture-fault variants ------------------------------------------------------------------------------


def fault_clips(cache_dir: Path, scene: str, fault: str) -> tuple[Clip, Clip]:
    """(main, sub) clips of *scene* showing picture *fault*; encoded on first use from the scene's main."""
    if fault not in RTSP_PICTURE_FILTERS:
        raise ValueError(f"no picture variant for fault {fault!r}; valid: {', '.join(RTSP_PICTURE_FILTERS)}")
    base = ensure_scene(cache_dir, scene)
    flt, fps = RTSP_PICTURE_FILTERS[fault]
    d = base.jpeg_dir.parent / f"fault-{fault}-{_recipe_hash(flt, fps)}"
    main, sub = Clip(d / "main.h264", fps), Clip(d / "sub.h264", fps)
    if (d / "done").is_file():
        return main, sub
    with _locked(d.with_name(d.name + ".lock")):
        if (d / "done").is_file():
            return main, sub
        t0 = time.monotonic()
        with _building(d) as tmp:
            w, h = MAIN_SIZE
            sw, sh = SUB_SIZE
            frames = max(2, int(FAULT_LOOP_S * fps))
            gop = ["-g", str(max(1, int(2 * fps)))]
            graph = f"[0:v]{flt},scale={w}:{h},setsar=1,split=2[m][s0];[s0]scale={sw}:{sh}[s]"
            _run_ffmpeg(
                [
                    "-f",
                    "h264",
                    "-framerate",
                    str(FPS),
                    "-i",
                    str(base.main.path),
                    "-filter_complex",
                    graph,
                    "-map",
                    "[m]",
                    *_X264,
                    *gop,
                    *_MAIN_RATE,
                    "-r",
                    str(fps),
                    "-frames:v",
                    str(frames),
                    "-f",
                    "h264",
                    str(tmp / "main.h264"),
                    "-map",
                    "[s]",
                    *_X264,
                    *gop,
                    *_SUB_RATE,
                    "-r",
                    str(fps),
                    "-frames:v",
                    str(frames),
                    "-f",
                    "h264",
                    str(tmp / "sub.h264"),
                ],
                f"scene {scene} fault {fault}",
            )
        log.info("encoded %s variant of scene %s in %.1f s", fault, scene, time.monotonic() - t0)
    return main, sub


# --- extra streams (benchmark corpora) -------------------------------------------------------------------


def prepare_extra(cache_dir: Path, name: str, src: Path) -> Clip:
    """Remux a raw or containered H.264 file into the server's Annex-B form (with AUDs); no re-encoding."""
    if not src.is_file():
        raise ValueError(f"extra stream {name!r}: {src} is not a file")
    st = src.stat()
    key = _recipe_hash(str(src.resolve()), st.st_size, st.st_mtime_ns)
    out = cache_dir / "sim" / "extra" / f"{key}.h264"
    fps = _probe_fps(src)
    if out.is_file():
        return Clip(out, fps)
    with _locked(out.with_suffix(".lock")):
        if not out.is_file():
            tmp = out.with_name(f"{out.stem}.{os.getpid()}.part.h264")
            _run_ffmpeg(
                [
                    "-i",
                    str(src),
                    "-map",
                    "0:v:0",
                    "-an",
                    "-c:v",
                    "copy",
                    "-bsf:v",
                    "h264_mp4toannexb,h264_metadata=aud=insert",
                    "-f",
                    "h264",
                    str(tmp),
                ],
                f"extra stream {name}",
            )
            tmp.replace(out)
    return Clip(out, fps)


def _probe_fps(src: Path) -> float:
    """The frame rate the file's video stream declares, read with PyAV (unlike OpenCV it takes no FFmpeg
    options from the environment); a file with no readable video stream is an error, not 5 fps."""
    import av

    try:
        with av.open(str(src)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
    except (av.FFmpegError, IndexError) as exc:
        raise ValueError(f"{src}: no readable video stream ({type(exc).__name__})") from None
    fps = float(rate) if rate else 0.0
    return fps if 0.5 <= fps <= 120 else float(FPS)
