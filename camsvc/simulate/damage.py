"""Picture damage: what a failing camera does to its frames, as pure numpy/OpenCV functions (BGR uint8 in,
BGR uint8 out, never in place). Beside :mod:`camsvc.simulate.faults` (the simulator's named faults); the
picture-health benchmark (``camsvc bench vqd``) and the unit tests render their faults at several severities
with these. Pure: no I/O, no clock; randomness only from the generator passed in.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def add_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise of standard deviation *sigma*, the same on the three channels (luma-like)."""
    if sigma <= 0:
        return img
    n = rng.normal(0.0, sigma, img.shape[:2]).astype(np.float32)
    out = img.astype(np.float32) + n[:, :, None]  # luma-like noise, as most sensors show after the ISP
    return np.clip(out, 0, 255).astype(np.uint8)


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigma)


def defocus(img: np.ndarray, radius: int) -> np.ndarray:
    """Out-of-focus lens: a disc kernel."""
    k = np.zeros((2 * radius + 1, 2 * radius + 1), np.float32)
    cv2.circle(k, (radius, radius), radius, 1.0, -1)
    return cv2.filter2D(img, -1, k / k.sum())


def condensation(img: np.ndarray, sigma: float = 7.0, haze: float = 0.45) -> np.ndarray:
    """Fogged lens: blur, and the scene's own light scattered far across the picture (a milky veil by
    day, glows round the lights at night)."""
    f = img.astype(np.float32)
    sharp = cv2.GaussianBlur(f, (0, 0), sigma)
    scatter = cv2.GaussianBlur(f, (0, 0), 40)
    return np.clip(sharp * (1 - haze) + scatter * haze * 1.4, 0, 255).astype(np.uint8)


def cover(img: np.ndarray, fraction: float, kind: str = "box", tone: float | None = None) -> np.ndarray:
    """Something at the lens hiding ``fraction`` of the view.

    kind: "box" (the simulator's dark grey 0x303030 at 97%), "hand" (a defocused skin-coloured blob with
    shading, from the bottom), "bag" (dark cloth with soft folds, from the left). ``tone`` scales the
    object's brightness (a hand lit by IR at night, or left dark).
    """
    h, w = img.shape[:2]
    out = img.astype(np.float32)
    mask = np.zeros((h, w), np.float32)
    if kind == "box":
        cw = int(round(w * min(1.0, fraction)))
        mask[:, :cw] = 1.0
        colour = np.array([48, 48, 48], dtype=np.float32)
        out = out * (1 - 0.97 * mask[:, :, None]) + colour * 0.97 * mask[:, :, None]
        return np.clip(out, 0, 255).astype(np.uint8)
    if kind == "hand":
        # an ellipse from the bottom-right covering about `fraction`, very soft edge, lit unevenly
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        a, b = w * (0.2 + 0.9 * fraction), h * (0.3 + 0.95 * fraction)
        r = ((xx - w * 0.95) / a) ** 2 + ((yy - h * 1.05) / b) ** 2
        mask = np.clip((1.15 - r) / 0.3, 0, 1)
        shade = 0.75 + 0.25 * (1 - yy / h)
        colour = np.stack([95 * shade, 130 * shade, 185 * shade], axis=2)
    else:  # bag
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        edge = w * fraction + 18 * np.sin(yy / 23.0)
        mask = np.clip((edge - xx) / 25.0, 0, 1)
        folds = 1.0 + 0.08 * np.sin(xx / 37.0 + yy / 53.0)
        colour = np.stack([30 * folds, 32 * folds, 38 * folds], axis=2)
    soft: np.ndarray = cv2.GaussianBlur(np.asarray(colour, dtype=np.float32), (0, 0), 6)
    if tone is not None:
        soft = np.clip(soft * tone, 0, 255)
    m = mask[:, :, None]
    out = out * (1 - m) + soft * m
    return np.clip(out, 0, 255).astype(np.uint8)


def gain(img: np.ndarray, g: float, offset: float = 0.0) -> np.ndarray:
    return np.clip(img.astype(np.float32) * g + offset, 0, 255).astype(np.uint8)


def overexpose(img: np.ndarray, g: float) -> np.ndarray:
    """Blinded: gain with a soft bloom around what clips (sun in the lens, failed auto-exposure)."""
    f = img.astype(np.float32) * g
    bloom = cv2.GaussianBlur(np.maximum(f - 255.0, 0), (0, 0), 9) * 0.5
    return np.clip(f + bloom, 0, 255).astype(np.uint8)


def colour_gains(img: np.ndarray, b: float, g: float, r: float) -> np.ndarray:
    return np.clip(img.astype(np.float32) * np.array([b, g, r], dtype=np.float32), 0, 255).astype(np.uint8)


def snow(img: np.ndarray, mix: float, rng: np.random.Generator) -> np.ndarray:
    """Analog snow (the simulator's ``geq=lum=random(1)*255``), blended with the picture by ``mix``."""
    h, w = img.shape[:2]
    n = rng.integers(0, 256, (h, w)).astype(np.float32)
    grey_snow = np.repeat(n[:, :, None], 3, axis=2)
    if mix >= 1.0:
        return grey_snow.astype(np.uint8)
    out = img.astype(np.float32) * (1 - mix) + grey_snow * mix
    return np.clip(out, 0, 255).astype(np.uint8)


def rotate(img: np.ndarray, radians: float) -> np.ndarray:
    """The simulator's ``rotate=a:fillcolor=black``."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), math.degrees(radians), 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
