"""Database backends of the console (see postgresql/base.py)."""
