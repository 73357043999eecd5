"""Request and response models."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, Field


class Health(BaseModel):
    status: str
    version: str


class Subscriber(BaseModel):
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
