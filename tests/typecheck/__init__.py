"""Receivers that ``mypy --strict`` must accept (``accepted.py``) or reject
(``rejected.py``), checked by ``tests/test_types.py``."""
