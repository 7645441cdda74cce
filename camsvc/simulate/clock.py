"""The clock camera's picture: wall-clock epoch milliseconds burnt in as big black/white blocks.

Pure functions, no I/O and no clock: ``draw_clock(epoch_ms, width, height)`` makes the picture and
``read_clock(frame_bgr)`` reads the value back off any decoded frame (any size: the layout is in fractions of
the frame, so a 1280x720 main stream, a 640x360 sub-stream or a rescaled copy read the same).

Layout: a grid of ``COLS`` x ``ROWS`` cells on a mid-grey background, spanning ``GRID_X`` x ``GRID_Y`` of the
frame. Row 0 is a guard of alternating white/black cells (white first); it marks the pattern and gives the
reader its black and white levels. Rows 1.. hold 80 bits, most significant first, white = 1: the 64-bit
value (big-endian) then a CRC-16/CCITT of those 8 bytes. Cells are large (36x48 px at 640x360) so H.264 at
any sane bit rate keeps them; the reader samples the middle half of each cell and checks guard and CRC,
so a damaged or foreign picture gives ``None`` rather than a wrong time.
"""

from __future__ import annotations

import numpy as np

COLS = 16
ROWS = 6  # 1 guard row + 5 data rows = 80 bits
DATA_BITS = 64
CRC_BITS = 16
GRID_X = (0.05, 0.95)
GRID_Y = (0.15, 0.85)
BLACK = 16
WHITE = 235
GREY = 128

__all__ = ["COLS", "ROWS", "crc16", "draw_clock", "draw_clock_gray", "read_clock", "read_clock_gray"]


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _cells(epoch_ms: int) -> list[int]:
    """Cell values (1 white, 0 black) row by row: guard row then value bits then CRC bits."""
    if not 0 <= epoch_ms < 1 << DATA_BITS:
        raise ValueError(f"epoch_ms out of range: {epoch_ms}")
    raw = epoch_ms.to_bytes(8, "big")
    word = (epoch_ms << CRC_BITS) | crc16(raw)
    nbits = DATA_BITS + CRC_BITS
    bits = [(word >> (nbits - 1 - i)) & 1 for i in range(nbits)]
    guard = [1 - (i % 2) for i in range(COLS)]
    return guard + bits


def _edges(n: int, lo: float, hi: float, size: int) -> list[int]:
    return [round((lo + (hi - lo) * i / n) * size) for i in range(n + 1)]


def draw_clock_gray(epoch_ms: int, width: int, height: int) -> np.ndarray:
    """The picture as one grey (luma) plane, ``height`` x ``width`` uint8."""
    img = np.full((height, width), GREY, dtype=np.uint8)
    xs = _edges(COLS, *GRID_X, width)
    ys = _edges(ROWS, *GRID_Y, height)
    cells = _cells(int(epoch_ms))
    for r in range(ROWS):
        for c in range(COLS):
            img[ys[r] : ys[r + 1], xs[c] : xs[c + 1]] = WHITE if cells[r * COLS + c] else BLACK
    return img


def draw_clock(epoch_ms: int, width: int, height: int) -> np.ndarray:
    """The picture as a BGR ``height`` x ``width`` x 3 uint8 array."""
    gray = draw_clock_gray(epoch_ms, width, height)
    return np.repeat(gray[:, :, None], 3, axis=2)


def read_clock_gray(gray: np.ndarray) -> int | None:
    """Read the value off a grey plane; None when there is no valid pattern."""
    if gray.ndim != 2 or gray.shape[0] < ROWS * 4 or gray.shape[1] < COLS * 4:
        return None
    h, w = gray.shape
    x0, x1 = GRID_X
    y0, y1 = GRID_Y
    cw = (x1 - x0) / COLS
    ch = (y1 - y0) / ROWS
    means = np.empty(ROWS * COLS)
    for r in range(ROWS):
        ya = int((y0 + (r + 0.25) * ch) * h)
        yb = max(ya + 1, int((y0 + (r + 0.75) * ch) * h))
        band = gray[ya:yb].astype(np.float32)
        for c in range(COLS):
            xa = int((x0 + (c + 0.25) * cw) * w)
            xb = max(xa + 1, int((x0 + (c + 0.75) * cw) * w))
            means[r * COLS + c] = band[:, xa:xb].mean()
    guard = means[:COLS]
    whites, blacks = guard[0::2], guard[1::2]
    if whites.min() - blacks.max() < 40:  # no clear black/white guard: not our picture
        return None
    threshold = (whites.mean() + blacks.mean()) / 2
    margin = (whites.mean() - blacks.mean()) / 4
    data = means[COLS : COLS + DATA_BITS + CRC_BITS]
    if np.any(np.abs(data - threshold) < margin):  # a cell neither black nor white: damaged picture
        return None
    word = 0
    for v in data:
        word = (word << 1) | int(v > threshold)
    value, crc = word >> CRC_BITS, word & 0xFFFF
    if crc16(value.to_bytes(8, "big")) != crc:
        return None
    return value


def read_clock(frame_bgr: np.ndarray) -> int | None:
    """Epoch milliseconds burnt into a decoded BGR (or grey) frame, or None when none can be read."""
    frame = np.asarray(frame_bgr)
    if frame.ndim == 3:
        frame = frame[:, :, 1]  # green is closest to luma; the picture is grey
    return read_clock_gray(frame)
