"""A module that fails to import, for tests/test_cli.py."""

raise RuntimeError("this module fails on purpose")
