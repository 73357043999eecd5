"""Database session factory: created on first use, so a cold start does not connect."""

from __future__ import annotations

import os
from functools import lru_cache

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker


class Base(DeclarativeBase):
    pass


@lru_cache(maxsize=1)
def engine() -> Engine:
    url = os.environ.get("DATABASE_URL", "sqlite+pysqlite:///:memory:")
    return create_engine(url, pool_pre_ping=True)


def session_factory() -> sessionmaker:
    return sessionmaker(bind=engine())
