from pathlib import Path

import pytest

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.outputs import Outputs


def test_outputs_are_renamed_into_place_only_on_success(tmp_path: Path) -> None:
    outputs = Outputs({"geojson": tmp_path / "d.geojson", "mask": tmp_path / "m.tif"})
    with pytest.raises(RuntimeError), outputs.staged() as staged:
        for path in staged.values():
            path.write_text("partial")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    with outputs.staged() as staged:
        assert set(staged) == {"geojson", "mask"}
        for path in staged.values():
            path.write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.geojson", "m.tif"]
    with pytest.raises(TGDCError, match="already exists"):
        outputs.check()
    outputs.check(overwrite=True)
    with pytest.raises(TGDCError, match="share one path"):
        Outputs({"geojson": tmp_path / "x", "csv": tmp_path / "x"}).check()
    with pytest.raises(TGDCError, match="does not exist"):
        Outputs({"csv": tmp_path / "missing" / "d.csv"}).check()
