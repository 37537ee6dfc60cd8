"""Database sessions, declarative bases and Alembic migrations shared by every service."""
