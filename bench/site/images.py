"""Static images for the site: the grid of test images with predicted vs true labels."""

from __future__ import annotations

import io

import numpy as np


def prediction_grid(images: np.ndarray, true: np.ndarray, pred: np.ndarray,
                    classes: list[str], cols: int = 8) -> bytes:
    """PNG bytes of up to 40 images titled ``pred / true`` (red when wrong)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = int(np.ceil(len(images) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.35, rows * 1.55))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, img, t, p in zip(np.ravel(axes), images, true, pred, strict=False):
        ax.imshow(img, cmap="gray_r")
        ax.set_title(f"{classes[p][:9]}\n/{classes[t][:9]}", fontsize=7,
                     color="black" if p == t else "red")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()
