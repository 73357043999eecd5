"""The HTTP API: FastAPI served to API Gateway through Mangum."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet
from fastapi import FastAPI
from mangum import Mangum

from app.models import Health, Subscriber
from app.routers import images

VERSION = (Path(__file__).resolve().parent.parent / "VERSION").read_text().strip()

app = FastAPI(title="bluemoxon-api", version=VERSION)
app.include_router(images.router)


@app.get("/health")
def health() -> Health:
    return Health(status="ok", version=VERSION)


@app.post("/subscribers")
def subscribe(subscriber: Subscriber) -> dict[str, str]:
    token = Fernet(Fernet.generate_key()).encrypt(subscriber.email.encode())
    return {"email": subscriber.email, "token_bytes": str(len(token))}


handler = Mangum(app, lifespan="off")
