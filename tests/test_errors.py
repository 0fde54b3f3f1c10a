"""One line for what the system or GDAL reports."""

from pathlib import Path

from torchgeo_datacenters.errors import describe_os_error


def test_os_error_is_described_by_its_path_and_cause(tmp_path: Path) -> None:
    error = OSError(28, "No space left on device", str(tmp_path / "a.geojson"))
    assert describe_os_error(error) == f"{tmp_path / 'a.geojson'}: No space left on device"
