"""Draws assets/rank_picture.png, the greyscale picture of the matrix-rank lesson.

A 288 x 384 image with structure at every scale: a smooth gradient (rank 1), stripes and a
checkerboard (low rank), a disc, a triangle and text (high rank), so that the picture comes
back piece by piece as the rank r of its approximation grows.

    .venv/bin/python assets/rank_picture.py
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

HEIGHT, WIDTH = 288, 384
OUT = Path(__file__).with_suffix(".png")


def draw() -> Image.Image:
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    gradient = 60 + 120 * (x / WIDTH) * (0.6 + 0.4 * y / HEIGHT)  # smooth background
    img = Image.fromarray(gradient.astype(np.uint8), mode="L")
    d = ImageDraw.Draw(img)
    for i in range(6):  # vertical stripes: rank 1 in a block
        d.rectangle([20 + 14 * i, 20, 26 + 14 * i, 110], fill=235)
    for i in range(6):  # checkerboard: rank 2 in a block
        for j in range(6):
            if (i + j) % 2 == 0:
                d.rectangle([130 + 15 * i, 20 + 15 * j, 144 + 15 * i, 34 + 15 * j], fill=20)
    d.ellipse([250, 15, 360, 125], fill=240, outline=10, width=5)  # a disc: not low rank
    d.polygon([(40, 260), (110, 140), (180, 260)], fill=25)  # a triangle
    font = ImageFont.load_default(size=46)
    d.text((200, 150), "rank", fill=250, font=font)
    d.text((205, 205), "B·A", fill=10, font=font)
    return img


if __name__ == "__main__":
    draw().save(OUT, optimize=True)
    print(f"wrote {OUT} ({WIDTH} x {HEIGHT})")
