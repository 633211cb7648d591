"""A tiny line plot written as PNG with numpy and zlib only (no matplotlib): ``lr_find --plot``.

:func:`line_plot` draws series of ``(x, y)`` points on a log-x (or linear)
axis with a frame, decade ticks labelled ``1e-5`` in a 3x5 pixel font, and
optional vertical markers; :func:`write_png` encodes an RGB array (8-bit,
filter 0, one IDAT chunk).
"""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["line_plot", "write_png"]

# 3x5 glyphs, rows top to bottom, 3 bits each (MSB left)
_FONT = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7), "4": (5, 5, 7, 1, 1),
    "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 2, 2, 2), "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7),
    "e": (0, 7, 7, 4, 7), "-": (0, 0, 7, 0, 0), "+": (0, 2, 7, 2, 0), ".": (0, 0, 0, 0, 2), " ": (0, 0, 0, 0, 0),
}
COLORS = {"black": (0, 0, 0), "grey": (190, 190, 190), "blue": (31, 119, 180), "red": (214, 39, 40),
          "green": (44, 160, 44), "orange": (255, 127, 14)}


def write_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an ``(H, W, 3)`` uint8 array as a PNG file."""
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].astype(np.uint8).tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path = Path(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
                     + chunk(b"IEND", b""))
    return path


def _text(img: np.ndarray, x: int, y: int, text: str, color, scale: int = 2) -> None:
    for ch in text:
        for r, bits in enumerate(_FONT.get(ch, _FONT[" "])):
            for c in range(3):
                if bits >> (2 - c) & 1:
                    img[y + r * scale:y + (r + 1) * scale, x + c * scale:x + (c + 1) * scale] = color
        x += 4 * scale


def _line(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, color) -> None:
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    xs = np.rint(np.linspace(x0, x1, n + 1)).astype(int)
    ys = np.rint(np.linspace(y0, y1, n + 1)).astype(int)
    ok = (xs >= 0) & (xs < img.shape[1]) & (ys >= 0) & (ys < img.shape[0])
    img[ys[ok], xs[ok]] = color


def line_plot(path: str | Path, series: list[tuple[list, list, str]], markers: list[tuple[float, str]] = (),
              log_x: bool = True, size: tuple[int, int] = (640, 400), y_range: tuple | None = None) -> Path:
    """Plot ``series`` (``(xs, ys, color name)``) and vertical ``markers`` (``(x, color)``) to a PNG file.

    ``y_range`` (default: all points) clips what lies outside it to the frame."""
    width, height = size
    left, right, top, bottom = 40, 16, 16, 36
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    fx = (lambda v: math.log10(v)) if log_x else float
    xs_all = [fx(x) for xs, _, _ in series for x in xs]
    ys_all = [y for _, ys, _ in series for y in ys if math.isfinite(y)]
    if not xs_all or not ys_all:
        raise ValueError("line_plot: nothing to plot")
    x_lo, x_hi = min(xs_all), max(xs_all)
    y_lo, y_hi = y_range if y_range is not None else (min(ys_all), max(ys_all))
    x_hi, y_hi = (x_hi if x_hi > x_lo else x_lo + 1), (y_hi if y_hi > y_lo else y_lo + 1)
    pw, ph = width - left - right, height - top - bottom

    def px(x):
        return left + (fx(x) - x_lo) / (x_hi - x_lo) * pw

    def py(y):
        return top + (y_hi - min(max(y, y_lo), y_hi)) / (y_hi - y_lo) * ph

    black = COLORS["black"]
    for a, b in (((left, top), (left + pw, top)), ((left, top + ph), (left + pw, top + ph)),
                 ((left, top), (left, top + ph)), ((left + pw, top), (left + pw, top + ph))):
        _line(img, *a, *b, black)
    if log_x:
        for decade in range(math.ceil(x_lo), math.floor(x_hi) + 1):
            x = left + (decade - x_lo) / (x_hi - x_lo) * pw
            _line(img, x, top + ph, x, top + ph + 5, black)
            label = f"1e{decade}"
            _text(img, int(x) - len(label) * 4, top + ph + 10, label, black)
    for x, color in markers:
        _line(img, px(x), top, px(x), top + ph, COLORS[color])
    for xs, ys, color in series:
        points = [(px(x), py(y)) for x, y in zip(xs, ys) if math.isfinite(y)]
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            _line(img, x0, y0, x1, y1, COLORS[color])
    return write_png(path, img)
