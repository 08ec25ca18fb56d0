"""Helpers shared by the test modules: canned payloads, raw-socket servers, the live key.

``tests/`` is on ``sys.path`` through ``pythonpath`` in pyproject.toml, so ``from
helpers.payloads import ...`` works in every pytest import mode, ``importlib`` included.
"""
