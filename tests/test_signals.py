from __future__ import annotations

import pytest

import reqsignals
from reqsignals import Signal, signals


@pytest.mark.parametrize(
    ("signal", "kwargs"),
    [
        pytest.param(signals.request_started, ["environ", "scope"], id="request_started"),
        pytest.param(
            signals.got_request_exception, ["environ", "scope", "exception"], id="exception"
        ),
        pytest.param(
            signals.request_finished, ["environ", "scope", "status", "duration"], id="finished"
        ),
        pytest.param(signals.user_logged_in, ["request", "user"], id="logged_in"),
        pytest.param(signals.user_logged_out, ["request", "user"], id="logged_out"),
        pytest.param(signals.user_login_failed, ["credentials", "request"], id="login_failed"),
        pytest.param(signals.connection_created, ["connection"], id="connection_created"),
    ],
)
def test_each_signal_documents_its_keyword_arguments(signal: Signal, kwargs: list[str]) -> None:
    assert isinstance(signal, Signal)
    doc = signal.__doc__ or ""
    for name in kwargs:
        assert f"``{name}``" in doc, f"{signal.name} does not document {name}"


def test_all_signals_are_reexported_by_name() -> None:
    for sig in signals.ALL_SIGNALS:
        assert getattr(reqsignals, str(sig.name)) is sig
        assert sig.name in reqsignals.__all__


def test_importing_the_package_needs_no_optional_dependency() -> None:
    import subprocess
    import sys

    code = (
        "import sys, reqsignals, reqsignals.dispatch, reqsignals.signals, reqsignals.testing\n"
        "bad = {'itsdangerous', 'argon2', 'redis', 'starlette', 'uvicorn'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_package_namespace_holds_only_its_public_names_and_submodules() -> None:
    import types

    assert "annotations" not in dir(reqsignals)
    leaked = [
        name
        for name in dir(reqsignals)
        if not name.startswith("_")
        and name not in reqsignals.__all__
        and not isinstance(getattr(reqsignals, name), types.ModuleType)
    ]
    assert leaked == []
