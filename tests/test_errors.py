"""One line for what the system or GDAL reports."""

from pathlib import Path

import pytest

from torchgeo_datacenters import errors
from torchgeo_datacenters.errors import TGDCError, describe_os_error


def test_os_error_is_described_by_its_path_and_cause(tmp_path: Path) -> None:
    error = OSError(28, "No space left on device", str(tmp_path / "a.geojson"))
    assert describe_os_error(error) == f"{tmp_path / 'a.geojson'}: No space left on device"


def test_a_user_error_ends_a_program_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`torchgeo fit` with a refused config: the hook prints the one line, no traceback."""
    import sys

    from torchgeo_datacenters.errors import install_excepthook

    # Another library imported earlier in the session (Ray) may have set its own hook
    # over the one the datamodule installed at import: start from Python's own.
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    install_excepthook()
    assert hasattr(sys.excepthook, "previous")
    monkeypatch.setattr(sys, "argv", ["/venv/bin/torchgeo", "fit", "--config", "x.yaml"])
    monkeypatch.delenv("TGDC_DEBUG", raising=False)
    try:
        try:
            raise TGDCError("batch_size (0) must be positive")
        except TGDCError as error:
            raise RuntimeError("wrapped by a library") from error
    except RuntimeError as wrapped:
        sys.excepthook(type(wrapped), wrapped, wrapped.__traceback__)
    assert capsys.readouterr().err == "torchgeo fit: error: batch_size (0) must be positive\n"
    # Other errors, and user errors under TGDC_DEBUG, keep their traceback.
    calls = []
    hook = errors._one_line_hook(lambda *args: calls.append(args[1]))
    other = ValueError("a bug")
    hook(ValueError, other, None)
    monkeypatch.setenv("TGDC_DEBUG", "1")
    user = TGDCError("x")
    hook(TGDCError, user, None)
    assert calls == [other, user]
    errors.install_excepthook()
    assert not hasattr(sys.excepthook.previous, "previous")  # installed once
