import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import pystac
import pytest
import shapely
import torch
from support.inference import save_checkpoint, write_scene
from support.stac_schemas import validate

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.inference.model import read_checkpoint_facts
from torchgeo_datacenters.naip import DATACENTER_CLASS, HARD_NEGATIVE_CLASSES
from torchgeo_datacenters.outputs.provenance import item_provenance
from torchgeo_datacenters.outputs.stac import class_name, model_item, write_stac

FAST = [
    *("--tile-size", "64", "--overlap", "16", "--min-area", "0"),
    *("--device", "cpu", "--num-workers", "0"),
]
NAIP_NAME = "m_4208701_ne_16_060_20200902.tif"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.ckpt", logit=5.0)


def test_model_item_is_valid_mlm(checkpoint: Path) -> None:
    item = model_item(read_checkpoint_facts(checkpoint))
    assert "https://stac-extensions.github.io/mlm/v1.4.0/schema.json" in validate(item)
    (model_input,) = item.properties["mlm:input"]
    assert model_input["bands"] == ["R", "G", "B", "NIR"]
    assert [s["mean"] for s in model_input["value_scaling"]] == [125.0] * 4
    assert item.properties["mlm:hyperparameters"]["threshold"] == 0.5
    weights = torch.load(checkpoint, weights_only=True)["state_dict"]
    learned = sum(
        t.numel() for n, t in weights.items() if t.is_floating_point() and "running" not in n
    )
    assert item.properties["mlm:total_parameters"] == learned
    assert item.assets["model"].href == str(checkpoint.resolve())


def test_describe_prints_the_checkpoint_and_its_stac_item(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["describe", str(checkpoint)]) == 0
    text = capsys.readouterr().out
    assert "bands:      R, G, B, NIR" in text and "threshold:  0.5" in text
    assert main(["describe", str(checkpoint), "--stac"]) == 0
    item = pystac.Item.from_dict(json.loads(capsys.readouterr().out))
    validate(item)
    (tmp_path / "bad.ckpt").write_bytes(b"not a checkpoint")
    assert main(["describe", str(tmp_path / "bad.ckpt")]) == 2
    assert "bad.ckpt: not a readable PyTorch checkpoint" in capsys.readouterr().err


def test_detect_writes_a_valid_stac_collection_and_report(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    image = write_scene(
        tmp_path / NAIP_NAME, 64, 100, nodata=0, nodata_region=(slice(None), slice(0, 30))
    )
    out = tmp_path / "out"
    out.mkdir()
    args = ["detect", "--checkpoint", str(checkpoint), "--image", str(image), *FAST]
    args += ["--output-geojson", str(out / "d.geojson"), "--output-mask", str(out / "m.tif")]
    args += ["--output-stac", str(out / "stac"), "--output-report", str(out / "r.html")]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert f"stac: {out / 'stac' / 'collection.json'}" in stdout
    assert f"report: {out / 'r.html'}" in stdout
    collection = pystac.Collection.from_file(str(out / "stac" / "collection.json"))
    validate(collection)
    items = {item.id: item for item in collection.get_items(recursive=True)}
    assert set(items) == {"model", NAIP_NAME[:-4]}
    validate(items["model"])
    item = items[NAIP_NAME[:-4]]
    assert "https://stac-extensions.github.io/label/v1.0.1/schema.json" in validate(item)
    assert item.properties["label:type"] == "vector"
    assert item.properties["label:tasks"] == ["segmentation"]
    assert item.properties["label:methods"] == ["automated"]
    assert item.properties["label:overviews"][0]["counts"][0]["count"] == 1
    # Dated by the acquisition in the NAIP file name; derived from the file and the model.
    assert item.datetime == dt.datetime(2020, 9, 2, tzinfo=dt.UTC)
    sources = [link for link in item.links if link.rel == "derived_from"]
    assert sources[0].href == str(image.resolve())
    assert sources[0].extra_fields["acquired"] == "2020-09-02"
    assert sources[1].get_absolute_href() == items["model"].get_self_href()
    assert Path(item.assets["mask"].get_absolute_href()) == (out / "m.tif").resolve()
    table = gpd.read_parquet(item.assets["detections_geoparquet"].get_absolute_href())
    geojson = json.loads(Path(item.assets["detections_geojson"].get_absolute_href()).read_text())
    assert len(table) == len(geojson["features"]) == 1
    assert table["acquired"].tolist() == ["2020-09-02"] and table["class_name"].tolist() == [
        "datacenter"
    ]
    assert geojson["features"][0]["properties"]["acquired"] == "2020-09-02"
    assert (out / "r.html").stat().st_size > 100_000  # Leaflet and the image are inside
    # --date replaces the file name's date in the item as in the detections.
    dated = [*args, "--date", "2021-06-30", "--overwrite"]
    assert main(dated) == 0
    collection = pystac.Collection.from_file(str(out / "stac" / "collection.json"))
    item = next(item for item in collection.get_items(recursive=True) if item.id != "model")
    assert item.datetime == dt.datetime(2021, 6, 30, tzinfo=dt.UTC)
    sources = [link for link in item.links if link.rel == "derived_from"]
    assert sources[0].extra_fields["acquired"] == "2021-06-30"
    capsys.readouterr()
    # An existing catalogue stops the run before anything is written.
    (out / "m.tif").unlink()
    assert main([*args, "--output-csv", str(out / "d.csv")]) == 2
    assert "stac: already exists; pass --overwrite" in capsys.readouterr().err
    assert not (out / "m.tif").exists() and not (out / "d.csv").exists()


def test_items_of_a_stac_scan_link_to_their_items(checkpoint: Path, tmp_path: Path) -> None:
    footprint = shapely.box(-81.0, 39.0, -80.99, 39.01)
    item = {
        "id": "wi_m_4208701_ne_16_060_20200902",
        "geometry": shapely.geometry.mapping(footprint),
        "properties": {"datetime": "2020-09-02T16:00:00Z"},
    }
    url = "http://127.0.0.1:1/collections/naip/items/wi_m_4208701_ne_16_060_20200902"
    provenance = item_provenance(item, "wi_m_4208701_ne_16_060_20200902.tif", url)
    detections = gpd.GeoDataFrame(
        {
            "id": [1],
            "area_m2": [5000.0],
            "centroid_lon": [-80.995],
            "centroid_lat": [39.005],
            "score": [0.9],
            "max_score": [0.95],
            "source": [provenance.name],
        },
        geometry=[shapely.box(-80.996, 39.004, -80.994, 39.006)],
        crs=4326,
    )
    path = write_stac(
        tmp_path / "stac",
        detections,
        [provenance],
        read_checkpoint_facts(checkpoint),
        item_id="scan",
    )
    stac_item = pystac.Item.from_file(str(path.parent / "scan" / "scan.json"))
    validate(stac_item)
    (link,) = [
        link for link in stac_item.links if link.rel == "derived_from" and "items" in link.href
    ]
    assert link.href == url and link.extra_fields["item"] == item["id"]
    assert link.extra_fields["acquired"] == "2020-09-02"
    assert shapely.geometry.shape(stac_item.geometry).equals(footprint)
    # Replacing a catalogue leaves no staging directory behind.
    write_stac(
        tmp_path / "stac",
        detections,
        [provenance],
        read_checkpoint_facts(checkpoint),
        item_id="scan",
        overwrite=True,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stac"]


def test_detections_are_labelled_data_centers_whatever_class_comes_last() -> None:
    binary = ["background", DATACENTER_CLASS]
    hard_negatives = ["background", DATACENTER_CLASS, *HARD_NEGATIVE_CLASSES]
    assert class_name({"class_names": binary}) == DATACENTER_CLASS
    assert class_name({"class_names": hard_negatives}) == DATACENTER_CLASS
    assert class_name({"class_names": [*hard_negatives, "parking"]}) == DATACENTER_CLASS
    assert class_name({}) == "data_center"
