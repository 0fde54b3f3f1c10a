import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from torchgeo_datacenters import outputs
from torchgeo_datacenters.detections import CSV_COLUMNS, MASK_NODATA, order_detections
from torchgeo_datacenters.detections.writers import write_csv, write_geojson


def detections() -> gpd.GeoDataFrame:
    table = gpd.GeoDataFrame(
        {
            "id": 0,
            "area_m2": [120.5],
            "centroid_lon": [-81.0],
            "centroid_lat": [39.75],
            "score": [0.9],
            "max_score": [0.95],
            "source": ["a.tif"],
        },
        geometry=[shapely.box(-81.0001, 39.7499, -80.9999, 39.7501)],
        crs=4326,
    )
    return order_detections(table)


def test_built_in_formats() -> None:
    assert [output.name for output in outputs.vector_formats()] == [
        "geojson",
        "csv",
        "gpkg",
        "parquet",
    ]
    assert [output.name for output in outputs.raster_formats()] == ["mask", "probabilities"]
    assert [output.name for output in outputs.run_formats()] == ["stac", "report", "review"]
    assert outputs.scan_files() == {
        "geojson": "detections.geojson",
        "csv": "detections.csv",
        "parquet": "detections.parquet",
    }
    assert [output.flag for output in outputs.FORMATS.values() if output.required] == [
        "--output-geojson"
    ]
    # The help states the facts the writers define.
    assert ", ".join(CSV_COLUMNS) in outputs.FORMATS["csv"].help
    assert f"{MASK_NODATA} nodata" in outputs.FORMATS["mask"].help


def test_write_vectors_writes_each_kind_asked_for_with_its_writer(tmp_path: Path) -> None:
    table = detections()
    paths = {"geojson": tmp_path / "d.geojson", "csv": tmp_path / "d.csv", "mask": tmp_path / "m"}
    outputs.write_vectors(table, paths)
    write_geojson(table, tmp_path / "expected.geojson")
    write_csv(table, tmp_path / "expected.csv")
    assert paths["geojson"].read_bytes() == (tmp_path / "expected.geojson").read_bytes()
    assert paths["csv"].read_bytes() == (tmp_path / "expected.csv").read_bytes()
    assert not paths["mask"].exists()


def test_keywords_name_registered_formats_only() -> None:
    paths = outputs.paths_from_keywords(
        {"output_csv": "d.csv"}, outputs.vector_formats(), "predict_batch"
    )
    assert paths == {"geojson": None, "csv": "d.csv", "gpkg": None, "parquet": None}
    with pytest.raises(TypeError, match=r"predict_batch.*'output_mask'"):
        outputs.paths_from_keywords(
            {"output_mask": "m.tif"}, outputs.vector_formats(), "predict_batch"
        )


def test_register_refuses_bad_or_taken_names() -> None:
    def format_named(name: str) -> outputs.VectorFormat:
        return outputs.VectorFormat(name=name, help="x", writer=write_csv, extension=".x")

    with pytest.raises(ValueError, match="registered already"):
        outputs.register(format_named("csv"))
    with pytest.raises(ValueError, match="lower-case identifier"):
        outputs.register(format_named("my-format"))
    assert outputs.FORMATS["csv"].load_writer() is write_csv


def test_the_registry_loads_no_third_party_library() -> None:
    # The command line builds its flags from the registry: it must import fast.
    code = (
        "import sys, torchgeo_datacenters.outputs;"
        " print(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'numpy', 'pandas', 'geopandas', 'rasterio', 'shapely', 'torch'}))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.strip() == "[]", run.stderr


@pytest.mark.parametrize(
    "writer",
    [
        "torchgeo_datacenters.detections.writers:write_kml",
        "torchgeo_datacenters.detections.kml:write_kml",
        "torchgeo_datacenters.detections.writers.write_csv",
    ],
)
def test_a_writer_name_is_checked_when_registered_without_importing_it(writer: str) -> None:
    with pytest.raises(ValueError, match=f"'kml': '{writer}' names no function"):
        outputs.register(
            outputs.VectorFormat(name="kml", help="KML", writer=writer, extension=".kml")
        )
    assert "kml" not in outputs.FORMATS
    with pytest.raises(ValueError, match="names no function"):
        outputs.register(
            outputs.RunFormat(
                name="notes", help="x", writer=write_csv, checker="torchgeo_datacenters.utils:nope"
            )
        )
    assert "notes" not in outputs.FORMATS
