"""Receivers worth copying: request timing, Prometheus metrics, error tracking, an
audit log of the auth signals, and a brute-force login lock-out.

Each module stands alone apart from :mod:`.request_info` (two small helpers that read a
request's method, path and client address from whatever a signal carries).
"""
