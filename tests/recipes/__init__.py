"""Framework recipes run through the real libraries (see conftest.py)."""
