"""The README's quick starts, each set up as the README says, for tests/test_quick_starts.py.

Every module imports :mod:`tests.quick_starts.recording` first, which writes each
request signal the server process sends to the file named by ``QUICK_START_EVENTS``.
Each app answers ``/ok``, ``/boom`` (raises) and ``/stream`` (a streamed body).
"""
