"""Runnable examples of reqsignals; each module's docstring says how to run it."""
