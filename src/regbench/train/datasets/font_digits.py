"""Printed digits: 0-9 rendered in the 21 text fonts that ship with matplotlib, randomly rotated,
sheared, scaled and shifted, as 32x32 grayscale images (white ink on black, like MNIST).

A transfer source for the handwritten digit sets: the same ten classes in another domain (type, not
handwriting), with no sample shared with them. Generated offline and deterministically (seed 0) in
about two seconds; UCI's 8x8 digits were made from 32x32 bitmaps the same way `adapt` resizes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from regbench.train.datasets.splits import Raw

SOURCE = "printed digits rendered offline from matplotlib's DejaVu, STIX and Computer Modern fonts (seed 0)"
SIZE = 32
TRAIN_POOL, TEST_SIZE = 10_000, 2_000
# Text fonts with all ten digits; matplotlib's symbol-only fonts (cmex10, STIXSiz*) are left out.
FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmti10.ttf",
)  # fmt: skip


@lru_cache(maxsize=1)
def fonts() -> tuple:
    import matplotlib
    from PIL import ImageFont

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return tuple(ImageFont.truetype(str(folder / name), 32) for name in FONTS if (folder / name).is_file())


def render(digit: int, font, rng: np.random.Generator) -> np.ndarray:
    """One SIZE x SIZE float32 image in [0, 1] of `digit` in `font` with a random affine distortion."""
    from PIL import Image, ImageDraw, ImageFilter

    canvas = Image.new("L", (64, 64))
    ImageDraw.Draw(canvas).text((32, 32), str(digit), fill=255, font=font, anchor="mm")
    # Pen strokes: scanned handwriting (UCI's bitmaps, MNIST) is bolder than most type.
    canvas = canvas.filter(ImageFilter.MaxFilter(int(rng.choice([1, 3, 5]))))
    shear, angle = rng.uniform(-0.3, 0.3), rng.uniform(-12, 12)
    canvas = canvas.transform(canvas.size, Image.Transform.AFFINE, (1, shear, -shear * 32, 0, 1, 0), Image.BILINEAR)
    canvas = canvas.rotate(angle, Image.BILINEAR, center=(32, 32))
    glyph = canvas.crop(canvas.getbbox())
    # The digit's height fills 22-30 of the 32 pixels (UCI's bitmaps: all 32; MNIST: 20 of 28),
    # aspect kept.
    scale = min(rng.uniform(22, 30) / glyph.height, (SIZE - 2) / glyph.width)
    glyph = glyph.resize((max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))), Image.LANCZOS)
    image = Image.new("L", (SIZE, SIZE))
    left = (SIZE - glyph.width) // 2 + int(rng.integers(-2, 3))
    top = (SIZE - glyph.height) // 2 + int(rng.integers(-2, 3))
    image.paste(glyph, (min(max(left, 0), SIZE - glyph.width), min(max(top, 0), SIZE - glyph.height)))
    return np.asarray(image, dtype=np.float32) / 255.0


def make(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x (n, SIZE, SIZE, 1) float32, y (n,) int64): classes balanced, fonts cycled, order shuffled."""
    rng = np.random.default_rng(seed)
    faces = fonts()
    y = rng.permutation(np.arange(n) % 10)
    x = np.stack([render(int(d), faces[i % len(faces)], rng) for i, d in enumerate(y)])
    return x[..., None], y.astype(np.int64)


def load(data_dir: Path | None = None, offline: bool = False) -> Raw:
    x_train, y_train = make(TRAIN_POOL, seed=0)
    x_test, y_test = make(TEST_SIZE, seed=1)
    return Raw(x_train, y_train, x_test, y_test)
