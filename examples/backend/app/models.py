"""Request and response models shared by the API and the workers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Book(BaseModel):
    id: int
    title: str = Field(min_length=1, max_length=500)
    author: str | None = None


class Health(BaseModel):
    status: str
    version: str
