"""Thumbnails: Pillow in the layer, the image bytes from the request."""

from __future__ import annotations

import base64
import io

from fastapi import APIRouter
from PIL import Image

router = APIRouter(prefix="/images")


@router.post("/thumbnail")
def thumbnail(payload: dict[str, str]) -> dict[str, str | int]:
    image = Image.open(io.BytesIO(base64.b64decode(payload["png"])))
    image.thumbnail((64, 64))
    out = io.BytesIO()
    image.save(out, format="PNG")
    encoded = base64.b64encode(out.getvalue()).decode()
    return {"width": image.width, "height": image.height, "png": encoded}
