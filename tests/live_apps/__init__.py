"""The apps the tests serve, in-process and under real servers (uvicorn, gunicorn, ...)."""
