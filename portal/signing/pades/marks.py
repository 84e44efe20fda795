"""The signer's mark, checked when the signer submits it (the web process) and drawn into the
stamp later (the signature job): Pillow only, so checking it loads no PDF library."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from portal.signing.pades.errors import PadesError

MARK_MAX_PIXELS = 2000 * 800  # the signing pad exports 480 × 160: anything huge is refused


@dataclass(frozen=True)
class Mark:
    """The signer's chosen mark, shown in the stamp above the verified name: a typed text
    (when it differs from that name) or a drawn PNG."""

    text: str = ""
    png: bytes = b""


def drawn_mark(png: bytes) -> Image.Image:
    """The drawn mark cropped to its strokes; PadesError when it is not a usable PNG."""
    unusable = PadesError("Le tracé de la signature est illisible : recommencez.")
    try:
        with Image.open(io.BytesIO(png)) as image:
            if image.format != "PNG" or image.width * image.height > MARK_MAX_PIXELS:
                raise unusable
            drawing = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise unusable from exc
    box = drawing.getchannel("A").getbbox()
    if box is None:
        raise PadesError("Le cadre de signature est vide : tracez votre signature.")
    return drawing.crop(box)
