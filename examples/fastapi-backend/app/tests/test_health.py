"""Runs in the backend's own test suite; never shipped (excluded from the package)."""

from fastapi.testclient import TestClient

from app.main import app


def test_health() -> None:
    assert TestClient(app).get("/health").json()["status"] == "ok"  # noqa: S101
