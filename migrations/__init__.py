"""Alembic environment and revisions (a package only so that mypy can name and check its modules)."""
