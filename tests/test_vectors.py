"""Tests of the one vector reader, on files written the way GDAL's tools and other GIS write them.

Multi-layer GeoPackages and FileGDBs are built by ``ogr2ogr`` (gdal-bin, as QGIS and ArcGIS
users make them); the invalid polygons are the self-intersecting rings of OpenStreetMap
extracts and hand digitising, written as raw GeoJSON (no writer repairs them).
"""

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.datasets import DataCenterLabels, read_label_file
from torchgeo_datacenters.detections.files import read_vector
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.scan import read_aoi
from torchgeo_datacenters.vectors import VectorSource, read_vector_file, vector_source

OGR2OGR = shutil.which("ogr2ogr")
needs_ogr2ogr = pytest.mark.skipif(OGR2OGR is None, reason="ogr2ogr (gdal-bin) is not installed")

#: A bow-tie: one ring crossing itself, as OpenStreetMap exports hold them.
BOWTIE = [[-77.49, 39.0], [-77.48, 39.01], [-77.48, 39.0], [-77.49, 39.01], [-77.49, 39.0]]

#: Valid squares beside it.
SQUARE = [[-77.47, 39.0], [-77.46, 39.0], [-77.46, 39.01], [-77.47, 39.01], [-77.47, 39.0]]
NORTH = [[x, y + 0.02] for x, y in SQUARE]


def _geojson(path: Path, rings: list[list[list[float]]], **properties: object) -> Path:
    """A raw GeoJSON of polygons, written as is (invalid rings stay invalid)."""
    features = [
        {
            "type": "Feature",
            "properties": {"fid": i + 1, "name": f"site {i + 1}", **properties},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
        for i, ring in enumerate(rings)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _ogr2ogr(*args: str) -> None:
    assert OGR2OGR is not None
    subprocess.run([OGR2OGR, *args], check=True, capture_output=True)


def follow_advice(error: TGDCError, folder: Path) -> Path:
    """Run the ``ogr2ogr`` line an error gives in *folder*; return the file to give then."""
    advice = str(error).split("e.g. ", 1)[1]
    command, given = advice.split(", and give ", 1)
    assert OGR2OGR is not None
    subprocess.run(shlex.split(command), cwd=folder, check=True, capture_output=True)
    return folder / shlex.split(given)[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Single files, and a GeoPackage and a FileGDB of two layers plus a table, by ogr2ogr."""
    root = tmp_path_factory.mktemp("vectors")
    one = _geojson(root / "one.geojson", [SQUARE], **{"class": "datacenter", "acquired": None})
    two = _geojson(root / "two.geojson", [SQUARE, NORTH], **{"class": "datacenter"})
    bowtie = _geojson(root / "bowtie.geojson", [BOWTIE, SQUARE], **{"class": "datacenter"})
    notes = root / "notes.csv"
    notes.write_text("id,note\n1,a table without geometry\n")
    made = {"one": one, "two": two, "bowtie": bowtie}
    if OGR2OGR is not None:
        for driver, name in (("GPKG", "multi.gpkg"), ("OpenFileGDB", "multi.gdb")):
            target = str(root / name)
            _ogr2ogr("-f", driver, target, str(one), "-nln", "footprints")
            _ogr2ogr("-update", target, str(two), "-nln", "points_of_interest")
            if driver == "GPKG":
                _ogr2ogr("-update", target, str(notes), "-nln", "notes")
            made[driver] = root / name
    return made


@needs_ogr2ogr
@pytest.mark.parametrize("driver", ["GPKG", "OpenFileGDB"])
def test_several_layers_and_none_named_is_refused_listing_them(
    files: dict[str, Path], driver: str
) -> None:
    with pytest.raises(TGDCError) as error:
        read_vector_file(files[driver], "label")
    message = str(error.value)
    assert "has 2 layers (footprints, points_of_interest)" in message
    assert "notes" not in message  # a table without geometry is no layer
    # The advice works when followed.
    advised = message.rsplit("e.g. ", 1)[1]
    assert len(read_vector_file(advised, "label")) == 1


@needs_ogr2ogr
@pytest.mark.parametrize("driver", ["GPKG", "OpenFileGDB"])
def test_the_named_layer_is_read_whole(files: dict[str, Path], driver: str) -> None:
    frame = read_vector_file(f"{files[driver]}:points_of_interest", "inventory")
    assert len(frame) == 2
    assert frame.crs == "EPSG:4326"
    with pytest.raises(TGDCError, match="has no layer 'roads'; its layers: footprints, points_of"):
        read_vector_file(f"{files[driver]}:roads", "inventory")


def test_a_colon_in_an_existing_name_is_part_of_the_name(tmp_path: Path) -> None:
    path = _geojson(tmp_path / "a:b.geojson", [SQUARE])
    assert vector_source(path).path == path and vector_source(path).layer is None
    assert len(read_vector_file(str(path), "sites")) == 1


def test_a_layer_name_with_spaces_or_colons_is_named_as_it_is(tmp_path: Path) -> None:
    # ogr2ogr names OpenStreetMap layers by tag ("osm:landuse"); QGIS users type spaces.
    path = tmp_path / "names.gpkg"
    square = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Polygon(SQUARE)], crs=4326)
    square.to_file(path, layer="data centers 2020")
    pd.concat([square, square]).to_file(path, layer="osm:landuse", mode="a")
    assert vector_source(f"{path}:osm:landuse") == VectorSource(path, "osm:landuse")
    assert len(read_vector_file(f"{path}:osm:landuse", "inventory")) == 2
    assert len(read_vector_file(f"{path}:data centers 2020", "inventory")) == 1
    with pytest.raises(TGDCError, match=r"names.gpkg: has no layer 'osm:roads'; its layers"):
        read_vector_file(f"{path}:osm:roads", "inventory")
    # The example in the refusal is quoted for the shell, the name holding a space.
    with pytest.raises(TGDCError, match=r"FILE:LAYER, e\.g\. '.*names.gpkg:data centers 2020'$"):
        read_vector_file(path, "inventory")


def test_a_geopackage_of_raster_tiles_is_named_a_raster(tmp_path: Path) -> None:
    # QGIS and gdal_translate -of GPKG store imagery as tiles in a GeoPackage: given as
    # labels, it is refused as a raster, not as a file GDAL does not recognise.
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    path = tmp_path / "ortho.gpkg"
    profile = {"driver": "GPKG", "width": 64, "height": 64, "count": 3, "dtype": "uint8"}
    transform = from_origin(-8_626_000, 4_727_000, 10, 10)
    with rasterio.open(path, "w", crs="EPSG:3857", transform=transform, **profile) as dst:
        dst.write(np.zeros((3, 64, 64), "uint8"))
    with pytest.raises(TGDCError, match=r"ortho.gpkg: holds raster data only .* no vector layer"):
        read_vector_file(path, "label")


def test_a_csv_of_lon_lat_columns_is_refused_with_an_ogr2ogr_line_that_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A spreadsheet of sites saved as CSV: no geometry, only coordinate columns (was an
    # AttributeError traceback).
    path = tmp_path / "sites.csv"
    pd.DataFrame(
        {"Name": ["a", "b"], "Longitude": [-77.48, -77.46], "Latitude": [39.0, 39.01]}
    ).to_csv(path, index=False)
    with pytest.raises(
        TGDCError, match=r"sites.csv: has no geometry, only fields \(Name, Lon"
    ) as error:
        read_vector_file(path, "sites")
    dated = f"{path}@2020-01-01"
    assert (
        main(["change", "--detections", dated, dated, "--output", str(tmp_path / "c.geojson")]) == 2
    )
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"tgdc change: error: {path}: has no geometry")
    if shutil.which("ogr2ogr") is None:
        pytest.skip("ogr2ogr (gdal-bin) is not installed")
    points = read_vector_file(follow_advice(error.value, tmp_path), "sites")
    assert list(points.geom_type) == ["Point", "Point"] and points.crs == "EPSG:4326"
    assert points.geometry.x.tolist() == [-77.48, -77.46]


def test_overlapping_parts_of_a_multipolygon_are_unioned_not_holed(tmp_path: Path) -> None:
    # A hand-digitised site of three parts (UTM metres): a bow-tie, a hall with a
    # self-intersecting courtyard, and an annex drawn over the hall's corner. The repair
    # keeps the hall where the annex overlaps it (GEOS's default method made it a hole).
    x, y = 500_000, 4_300_000
    bowtie = shapely.Polygon([(x, y), (x + 10, y + 10), (x + 10, y), (x, y + 10)])
    courtyard = [(25, 5), (35, 15), (35, 5), (25, 15)]
    hall = shapely.Polygon(
        [(x + 20, y), (x + 40, y), (x + 40, y + 20), (x + 20, y + 20)],
        [[(x + dx, y + dy) for dx, dy in courtyard]],
    )
    annex = shapely.box(x + 30, y + 10, x + 50, y + 30)
    site = shapely.MultiPolygon([bowtie, hall, annex])
    assert not site.is_valid
    path = tmp_path / "site.geojson"
    gpd.GeoDataFrame({"name": ["site"]}, geometry=[site], crs=32618).to_file(path)
    with pytest.warns(UserWarning, match=r"repaired 1 invalid geometry \(fid=0 \(site\)\)"):
        (repaired,) = read_vector_file(path, "label").geometry
    # The bow-tie's triangles (50 m²), the hall less the courtyard's two triangles outside
    # the annex (400 - 25 - 25 + 12.5), the annex less what it shares with the hall.
    assert repaired.area == pytest.approx(50 + 362.5 + 400 - 100)
    assert repaired.covers(shapely.box(x + 36, y + 16, x + 39, y + 19))


def test_invalid_rings_are_repaired_keeping_polygons_and_counted(files: dict[str, Path]) -> None:
    with pytest.warns(UserWarning, match=r"repaired 1 invalid geometry \(fid=1 \(site 1\)\)"):
        frame = read_vector_file(files["bowtie"], "inventory")
    assert frame.geometry.is_valid.all()
    assert list(frame.geom_type) == ["MultiPolygon", "Polygon"]  # the bow-tie's two triangles
    bowtie = shapely.Polygon(BOWTIE)
    assert frame.geometry.iloc[0].area == pytest.approx(shapely.make_valid(bowtie).area)
    assert frame.geometry.iloc[0].area > 0


def test_a_ring_collapsed_to_a_line_becomes_empty(tmp_path: Path) -> None:
    flat = [[-77.49, 39.0], [-77.48, 39.0], [-77.47, 39.0], [-77.49, 39.0]]
    with pytest.warns(UserWarning, match="repaired 1 invalid geometry"):
        frame = read_vector_file(_geojson(tmp_path / "flat.geojson", [flat, SQUARE]), "area")
    assert frame.geometry.iloc[0].is_empty
    # Readers that drop empty rows keep the square alone; labels refuse in one line.
    with pytest.warns(UserWarning):
        assert len(read_vector(tmp_path / "flat.geojson", "inventory")) == 1
    with pytest.warns(UserWarning), pytest.raises(TGDCError, match=r"fid=1 .* empty geometry"):
        read_label_file(tmp_path / "flat.geojson")


def test_every_library_reader_repairs(files: dict[str, Path]) -> None:
    with pytest.warns(UserWarning, match="repaired 1"):
        area = read_aoi(files["bowtie"])
    assert area.is_valid
    with pytest.warns(UserWarning, match="repaired 1"):
        labels = DataCenterLabels(files["bowtie"])
    assert labels.features.geometry.is_valid.all()


@needs_ogr2ogr
def test_training_labels_take_a_layer(files: dict[str, Path]) -> None:
    labels = DataCenterLabels(f"{files['GPKG']}:points_of_interest")
    assert len(labels.features) == 2
    with pytest.raises(TGDCError, match="has 2 layers"):
        DataCenterLabels(files["GPKG"])


def _command_lines(files: dict[str, Path], out: Path, vector: str) -> dict[str, list[str]]:
    """Every command that reads vectors, with *vector* in each place it reads one."""
    one = str(files["one"])
    return {
        "chips --labels": [
            "chips", "--chips-dir", str(out), "--labels", vector, "--output-dir", str(out / "m")
        ],
        "download --sites": ["download", "--sites", vector, "--output-dir", str(out / "chips")],
        "scan --aoi": [
            "scan", "--checkpoint", "none.ckpt", "--aoi", vector, "--output-dir", str(out / "s")
        ],
        "change --detections": [
            "change", "--detections", one, vector, "--output", str(out / "c.geojson")
        ],
        "compare --detections": [
            "compare", "--detections", vector, "--inventory", one, "--footprint", one,
            "--output-dir", str(out / "cmp"),
        ],
        "compare --inventory": [
            "compare", "--detections", one, "--inventory", vector, "--footprint", one,
            "--output-dir", str(out / "cmp"),
        ],
        "compare --footprint": [
            "compare", "--detections", one, "--inventory", one, "--footprint", vector,
            "--output-dir", str(out / "cmp"),
        ],
    }  # fmt: skip


@needs_ogr2ogr
@pytest.mark.parametrize(
    "place",
    [
        "chips --labels",
        "download --sites",
        "scan --aoi",
        "change --detections",
        "compare --detections",
        "compare --inventory",
        "compare --footprint",
    ],
)
def test_every_command_refuses_an_unnamed_layer_in_one_line(
    files: dict[str, Path], tmp_path: Path, place: str, capfd: pytest.CaptureFixture
) -> None:
    argv = _command_lines(files, tmp_path, str(files["GPKG"]))[place]
    assert main(argv) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"tgdc {argv[0]}: error: {files['GPKG']}: has 2 layers (footprints")
    assert list(tmp_path.iterdir()) == []


@needs_ogr2ogr
def test_change_and_compare_read_the_layer_named(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    poi = f"{files['OpenFileGDB']}:points_of_interest"
    out = tmp_path / "c.geojson"
    vintages = [f"{poi}@2018-07-01", f"{poi}@2022-07-01"]
    assert main(["change", "--detections", *vintages, "--output", str(out)]) == 0
    assert "2 unchanged" in capsys.readouterr().out
    argv = _command_lines(files, tmp_path, poi)["compare --inventory"]
    assert main(argv) == 0
    # The inventory takes the layer's name; its square in the footprint is matched.
    scores = pd.read_csv(tmp_path / "cmp" / "scores.csv")
    assert scores[["inventory", "sites", "matched_sites"]].values.tolist() == [
        ["points_of_interest", 1, 1]
    ]


def test_commands_repair_invalid_rings_without_a_traceback(
    files: dict[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    bowtie = str(files["bowtie"])
    out = tmp_path / "c.geojson"
    argv = ["change", "--detections", f"{bowtie}@2018-07-01", f"{bowtie}@2022-07-01"]
    assert main([*argv, "--output", str(out)]) == 0
    err = capfd.readouterr().err
    assert err.count("repaired 1 invalid geometry") == 2
    assert "Traceback" not in err
    assert gpd.read_file(out).geometry.is_valid.all()


@needs_ogr2ogr
def test_a_file_without_crs_is_refused_with_advice_that_works(tmp_path: Path) -> None:
    shapefile = tmp_path / "sites.shp"
    gpd.GeoDataFrame(geometry=[shapely.Polygon(SQUARE)]).to_file(shapefile)  # no .prj
    with pytest.raises(TGDCError, match=r"has no CRS; assign one, e\.g\. ogr2ogr") as error:
        read_vector_file(shapefile, "sites")
    assert read_vector_file(follow_advice(error.value, tmp_path), "sites").crs == "EPSG:4326"


@needs_ogr2ogr
def test_metres_read_as_degrees_are_refused_with_advice_that_works(tmp_path: Path) -> None:
    # Web Mercator metres written as GeoJSON without its crs member: read as EPSG:4326.
    metres = gpd.GeoDataFrame(
        {"class": ["datacenter"], "label": [True]}, geometry=[shapely.Polygon(SQUARE)], crs=4326
    ).to_crs(3857)
    text = json.loads(metres.to_json(to_wgs84=False))
    text.pop("crs", None)
    (tmp_path / "sites.geojson").write_text(json.dumps(text))
    with pytest.raises(TGDCError, match=r"lie beyond longitude and latitude") as error:
        read_vector_file(tmp_path / "sites.geojson", "labels")
    fixed = read_vector(follow_advice(error.value, tmp_path), "labels")
    assert fixed.geometry.iloc[0].equals_exact(shapely.Polygon(SQUARE), tolerance=1e-7)
    # Whatever the file is called, the advice writes a copy, not over it.
    named = tmp_path / "fixed.gpkg"
    metres.set_crs(4326, allow_override=True).to_file(named)
    with pytest.raises(TGDCError, match=r"lie beyond longitude and latitude") as again:
        read_vector_file(named, "labels")
    copy = follow_advice(again.value, tmp_path)
    assert copy == tmp_path / "fixed-epsg3857.gpkg"
    fixed = read_vector(copy, "labels")
    assert fixed.geometry.iloc[0].equals_exact(shapely.Polygon(SQUARE), tolerance=1e-7)


@needs_ogr2ogr
def test_metres_without_a_crs_are_refused_with_advice_for_metres(tmp_path: Path) -> None:
    # A GeoPackage of Web Mercator metres with no CRS: not advised to call them degrees.
    metres = gpd.GeoDataFrame(geometry=[shapely.Polygon(SQUARE)], crs=4326).to_crs(3857)
    metres.set_crs(None, allow_override=True).to_file(tmp_path / "sites.gpkg")
    with pytest.raises(TGDCError, match=r"has no CRS, and its coordinates from \(") as error:
        read_vector_file(tmp_path / "sites.gpkg", "sites")
    assert "are not longitude and latitude" in str(error.value)
    fixed = read_vector_file(follow_advice(error.value, tmp_path), "sites")
    assert fixed.crs == "EPSG:3857"
    assert fixed.to_crs(4326).geometry.iloc[0].equals_exact(shapely.Polygon(SQUARE), tolerance=1e-7)


#: Google Earth placemarks as KML MultiGeometry: an outline with a pin, a pin alone and a
#: pin with a path (GDAL reads the first and last as GeometryCollections).
GOOGLE_EARTH_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>sites</name>
<Placemark><name>campus</name><MultiGeometry>
  <Point><coordinates>-77.465,39.005,0</coordinates></Point>
  <Polygon><outerBoundaryIs><LinearRing><coordinates>{square}</coordinates></LinearRing>
  </outerBoundaryIs></Polygon>
</MultiGeometry></Placemark>
<Placemark><name>pin</name><MultiGeometry>
  <Point><coordinates>-77.465,39.025,0</coordinates></Point>
</MultiGeometry></Placemark>
<Placemark><name>route</name><MultiGeometry>
  <Point><coordinates>-77.465,39.035,0</coordinates></Point>
  <LineString><coordinates>-77.46,39.03,0 -77.47,39.04,0</coordinates></LineString>
</MultiGeometry></Placemark>
</Document></kml>
""".format(square=" ".join(f"{x},{y},0" for x, y in SQUARE))


def test_kml_multigeometry_is_read_as_its_polygons_else_its_points(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from support.data import write_raster

    kml = tmp_path / "sites.kml"
    kml.write_text(GOOGLE_EARTH_KML)
    with pytest.warns(
        UserWarning, match=r"read 2 geometry collection\(s\) \(fid=0 \(campus\), fid=2 \(route\)\)"
    ):
        frame = read_vector_file(kml, "sites")
    assert frame.geom_type.tolist() == ["MultiPolygon", "MultiPoint", "MultiPoint"]
    assert frame.geometry[0].equals(shapely.Polygon(SQUARE))
    assert read_aoi(kml).equals(shapely.Polygon(SQUARE))
    # An inventory of an outline and a pin; training masks of the outline.
    one = str(_geojson(tmp_path / "d.geojson", [SQUARE]))
    args = ["compare", "--detections", one, "--inventory", str(kml), "--footprint", one]
    assert main([*args, "--output-dir", str(tmp_path / "cmp")]) == 0
    scores = pd.read_csv(tmp_path / "cmp" / "scores.csv")
    assert scores[["sites", "matched_sites"]].values.tolist() == [[1, 1]]
    assert len(gpd.read_file(tmp_path / "cmp" / "missed.geojson")) == 0
    # KML's Name field names the site.
    matched = gpd.read_file(tmp_path / "cmp" / "matched.geojson")
    assert matched["inventory_names"].tolist() == ["campus"]
    chips = tmp_path / "chips"
    chips.mkdir()
    transform = from_origin(-77.475, 39.015, 1e-4, 1e-4)
    write_raster(chips / "c.tif", np.full((4, 200, 200), 90, "uint8"), "EPSG:4326", transform)
    args = ["chips", "--chips-dir", str(chips), "--labels", str(kml), "--all-datacenters"]
    assert main([*args, "--output-dir", str(tmp_path / "masks")]) == 0
    with rasterio.open(tmp_path / "masks" / "c.tif") as src:
        # The square, 0.01 degrees a side at 1e-4 degrees a pixel.
        assert src.read(1).sum() == pytest.approx(100 * 100, rel=0.05)
    assert "Traceback" not in capfd.readouterr().err


def _other_system_file(kind: str, directory: Path, base: Path) -> Path:
    """The bow-tie and square of *base* as another system writes them."""
    if kind in ("FlatGeobuf", "ESRI Shapefile", "GeoJSONSeq"):
        suffix = {"FlatGeobuf": ".fgb", "ESRI Shapefile": ".shp", "GeoJSONSeq": ".geojsonl"}
        path = directory / f"sites{suffix[kind]}"
        _ogr2ogr("-f", kind, str(path), str(base))
        return path
    if kind == "ESRI JSON":  # an ArcGIS REST query's answer
        rings = [{"attributes": {"OBJECTID": i}, "geometry": {"rings": [r]}} for i, r in
                 enumerate([BOWTIE, SQUARE], 1)]  # fmt: skip
        path = directory / "query.json"
        path.write_text(json.dumps({
            "geometryType": "esriGeometryPolygon", "spatialReference": {"wkid": 4326},
            "fields": [{"name": "OBJECTID", "type": "esriFieldTypeOID"}], "features": rings,
        }))  # fmt: skip
        return path
    if kind == "heights":  # KML and 3D Shapefiles give every vertex a height
        rings = [[[x, y, 120.0] for x, y in ring] for ring in (BOWTIE, SQUARE)]
        return _geojson(directory / "heights.geojson", rings)
    # GeoJSON of 2008 with a crs member, in Web Mercator (older ArcGIS and QGIS exports).
    mercator = gpd.GeoSeries([shapely.Polygon(BOWTIE), shapely.Polygon(SQUARE)], crs=4326)
    rings = [list(map(list, g.exterior.coords)) for g in mercator.to_crs(3857)]
    path = _geojson(directory / "mercator.geojson", rings)
    data = json.loads(path.read_text())
    data["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    path.write_text(json.dumps(data))
    return path


@needs_ogr2ogr
@pytest.mark.parametrize(
    "kind", ["FlatGeobuf", "ESRI Shapefile", "GeoJSONSeq", "ESRI JSON", "heights", "crs member"]
)
def test_files_other_systems_write_are_read_alike(
    kind: str, files: dict[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    # The bow-tie repaired into its two triangles and the square, in EPSG:4326, whatever
    # wrote them; compared as an inventory, both sites are found by detections on them.
    path = _other_system_file(kind, tmp_path, files["bowtie"])
    frame = read_vector(path, "sites")
    expected = shapely.union_all(
        [shapely.make_valid(shapely.Polygon(BOWTIE)), shapely.Polygon(SQUARE)]
    )
    found = shapely.force_2d(shapely.union_all(frame.geometry.to_numpy()))
    # (Lines straight in Web Mercator bend a little in degrees.)
    assert found.symmetric_difference(expected).area < 1e-4 * expected.area
    assert frame.geometry.is_valid.all() and len(frame) == 2
    detections = str(files["bowtie"])
    args = ["compare", "--detections", detections, "--inventory", str(path)]
    assert main([*args, "--footprint", detections, "--output-dir", str(tmp_path / "cmp")]) == 0
    scores = pd.read_csv(tmp_path / "cmp" / "scores.csv")
    assert scores[["sites", "matched_sites"]].values.tolist() == [[2, 2]]
    assert "Traceback" not in capfd.readouterr().err


@needs_ogr2ogr
def test_a_csv_of_wkt_without_crs_is_refused_with_advice_that_works(tmp_path: Path) -> None:
    table = tmp_path / "sites.csv"
    table.write_text(f'WKT,name\n"{shapely.Polygon(SQUARE).wkt}",a\n')
    with pytest.raises(TGDCError, match=r"has no CRS; assign one, e\.g\. ogr2ogr") as error:
        read_vector_file(table, "sites")
    assert (
        read_vector_file(follow_advice(error.value, tmp_path), "sites")
        .geometry[0]
        .equals(shapely.Polygon(SQUARE))
    )


def test_a_label_file_with_blank_fids_names_features_by_row(tmp_path: Path) -> None:
    square = shapely.box(0, 0, 100, 100)
    frame = gpd.GeoDataFrame(
        {"fid": ["a1", None, ""], "class": ["data_center"] * 3, "label": [1, 1, 1]},
        geometry=[square, shapely.Polygon(), shapely.Polygon()],
        crs="EPSG:32618",
    )
    path = tmp_path / "labels.geojson"
    frame.to_file(path)
    with pytest.raises(TGDCError) as error:
        read_label_file(path)
    # Rows 1 and 2 have no fid of their own: they are named by their row number.
    assert "feature(s) fid=1, fid=2 have a missing or empty geometry" in str(error.value)
