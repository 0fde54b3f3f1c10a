"""Verdict files: the run id, reading them, and merging them into one label set."""

import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from support.verdicts import square, three_detections, verdict, write

from torchgeo_datacenters.detections.files import read_vector
from torchgeo_datacenters.detections.verdicts import (
    VERDICT_COLUMNS,
    labelled_sites,
    merge_verdicts,
    read_base_labels,
    read_verdicts,
    run_id,
)
from torchgeo_datacenters.detections.writers import write_geojson
from torchgeo_datacenters.errors import TGDCError


@pytest.fixture
def detections() -> gpd.GeoDataFrame:
    return three_detections()


def test_run_id_is_the_same_for_a_run_and_the_file_it_wrote(
    detections: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    write_geojson(detections, tmp_path / "d.geojson")
    back = read_vector(tmp_path / "d.geojson", "detections")
    assert run_id(back) == run_id(detections) == run_id(detections.iloc[::-1])
    assert len(run_id(detections)) == 12
    # Another score (beyond the file's 4 decimals) is another run.
    assert run_id(detections.assign(score=[0.6124, 0.9, 0.75])) != run_id(detections)
    assert run_id(detections.assign(score=[0.61234, 0.9, 0.75])) == run_id(detections)


def test_merge_turns_verdicts_into_labels(detections: gpd.GeoDataFrame, tmp_path: Path) -> None:
    run = run_id(detections)
    time = "2026-01-0{}T10:00:00.000Z"
    path = write(
        tmp_path / "v.geojson",
        verdict(square(0), "accepted", "datacenter", 1, time.format(1), run),
        verdict(square(1), "rejected", "warehouse", 2, time.format(2), run),
        verdict(square(5), "missed", "datacenter", None, time.format(3), run),
    )
    merged = merge_verdicts([path], {run: detections})
    labels = merged.labels
    assert list(labels.columns) == [*VERDICT_COLUMNS, "geometry"]
    assert labels["verdict"].tolist() == ["accepted", "rejected", "missed"]
    assert labels["class"].tolist() == ["datacenter", "warehouse", "datacenter"]
    assert labels["label"].tolist() == [True, False, True]
    assert labels["detection_id"].tolist()[:2] == [1, 2] and labels["detection_id"].isna()[2]
    assert labels.geometry.iloc[1].equals(square(1)) and labels.geometry.iloc[2].equals(square(5))
    assert merged.replaced == []
    assert merged.summary() == (
        "3 site(s) from 1 file(s): 2 data center(s) (1 accepted, 1 missed), 1 hard negative(s)"
        " (1 warehouse, 0 retail, 0 other); 0 judged twice"
    )


def test_a_site_judged_twice_keeps_the_newest_verdict(
    detections: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    run = run_id(detections)
    later = write(
        tmp_path / "later.geojson",
        verdict(square(0), "rejected", "retail", 1, "2026-02-01T09:00:00Z", run),
    )
    earlier = write(
        tmp_path / "earlier.geojson",
        verdict(square(0), "accepted", "datacenter", 1, "2026-01-01T09:00:00Z", run),
        # Another run's outline of site 1, 20% to the east (IoU 0.67): the same site.
        verdict(square(1, 0.2), "accepted", "datacenter", 7, "2026-01-05T09:00:00Z", "feed"),
        # Site 2 in a third run moved 60% (IoU 0.25): another site.
        verdict(square(2, 0.6), "rejected", "other", 4, "2026-01-06T09:00:00Z", "beef"),
    )
    newer_two = write(
        tmp_path / "two.geojson",
        verdict(square(1), "rejected", "warehouse", 2, "2026-01-09T09:00:00Z", run),
        verdict(square(2), "accepted", "datacenter", 3, "2026-01-09T09:00:00Z", run),
    )
    # The newest verdict wins whatever the order of the files.
    for paths in ([earlier, later, newer_two], [later, newer_two, earlier]):
        merged = merge_verdicts(paths)
        by_site = {
            round(g.centroid.x, 4): c
            for g, c in zip(merged.labels.geometry, merged.labels["class"], strict=True)
        }
        assert len(merged.labels) == 4
        assert merged.labels.loc[merged.labels["detection_id"] == 1, "class"].tolist() == ["retail"]
        assert merged.labels.loc[merged.labels["run"] == "feed"].empty
        assert sorted(by_site.values()) == ["datacenter", "other", "retail", "warehouse"]
        assert sorted(map(str, merged.replaced)) == [
            f"run {run} #1: kept {later}: rejected retail"
            f" (2026-02-01T09:00:00.000Z), dropped {earlier}: accepted datacenter"
            " (2026-01-01T09:00:00.000Z)",
            f"run {run} #2: kept {newer_two}: rejected warehouse"
            f" (2026-01-09T09:00:00.000Z), dropped {earlier}: accepted datacenter"
            " (2026-01-05T09:00:00.000Z)",
        ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"class": "warehose", "label": False, "verdict": "rejected"},
            "feature(s) 2 have class 'warehose' for verdict 'rejected'; its class is one of"
            " warehouse, retail, other",
        ),
        (
            {"class": "warehouse", "label": False, "verdict": "accepted"},
            "feature(s) 2 have class 'warehouse' for verdict 'accepted'; its class is one of"
            " datacenter",
        ),
        (
            {"verdict": "maybe"},
            "feature(s) 2 have verdict 'maybe'; give one of accepted, rejected, missed",
        ),
        ({"label": False}, "feature(s) 2 have a label that contradicts their class"),
        ({"reviewed_at": "yesterday"}, "feature(s) 2 have no ISO 8601 reviewed_at"),
        (
            {"detection_id": None},
            "feature(s) 2 judge a detection but name no detection_id",
        ),
        (
            {"verdict": "missed", "detection_id": 2},
            "feature(s) 2 are missed sites (verdict 'missed') that name a detection_id; a missed"
            " site is one no detection found: remove its detection_id",
        ),
        *[
            (
                {"detection_id": value},
                "feature(s) 2 have a detection_id that is not a detection's whole-number id"
                f" ({value!r}); give the id of the detection in the detections file",
            )
            for value in (1.5, "abc")
        ],
    ],
)
def test_a_bad_verdict_is_refused_in_one_line(
    detections: gpd.GeoDataFrame, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    run = run_id(detections)
    bad = verdict(square(1), "accepted", "datacenter", 2, "2026-01-01T00:00:00Z", run)
    bad["properties"].update(change)
    path = write(
        tmp_path / "v.geojson",
        verdict(square(0), "accepted", "datacenter", 1, "2026-01-01T00:00:00Z", run),
        bad,
    )
    with pytest.raises(TGDCError) as error:
        merge_verdicts([path])
    assert str(error.value).startswith(f"{path}: {message}")
    assert "\n" not in str(error.value)


def test_a_refusal_names_the_features_that_hold_the_value_it_quotes(
    detections: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # Two verdict words of other tools: the error quotes the first and names its features.
    words = [("accept", "datacenter"), ("reject", "warehouse"), ("accept", "datacenter")]
    features = [
        verdict(square(n), word, kind, n + 1, "2026-01-01T00:00:00Z", run_id(detections))
        for n, (word, kind) in enumerate(words)
    ]
    with pytest.raises(TGDCError) as error:
        merge_verdicts([write(tmp_path / "v.geojson", *features)])
    assert str(error.value).startswith(
        f"{tmp_path / 'v.geojson'}: feature(s) 1, 3 have verdict 'accept'; give"
    )


def test_verdicts_of_another_run_are_refused(detections: gpd.GeoDataFrame, tmp_path: Path) -> None:
    run = run_id(detections)
    other = write(
        tmp_path / "other.geojson",
        verdict(square(0), "accepted", "datacenter", 1, "2026-01-01T00:00:00Z", "0123456789ab"),
    )
    with pytest.raises(TGDCError) as error:
        read_verdicts(other, {run: detections})
    assert str(error.value) == (
        f"{other}: feature(s) 1 judge detections of run 0123456789ab, not of the detections"
        f" given (run {run}); give with --detections the detections file its review page was"
        " built from"
    )
    unknown = write(
        tmp_path / "unknown.geojson",
        verdict(square(0), "accepted", "datacenter", 9, "2026-01-01T00:00:00Z", run),
    )
    with pytest.raises(TGDCError, match=rf"feature\(s\) 1 name detection ids run {run} does not"):
        read_verdicts(unknown, {run: detections})
    # Without the detections, only the file itself is checked.
    assert len(read_verdicts(other)) == 1


def test_a_file_that_is_no_verdict_file_is_refused(tmp_path: Path) -> None:
    # A label file of the seed project's schema, without verdicts.
    feature = {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(square(0)),
        "properties": {"fid": 1, "class": "datacenter", "name": "vantage_0", "label": True},
    }
    path = write(tmp_path / "labels.geojson", feature)
    with pytest.raises(TGDCError) as error:
        read_verdicts(path)
    assert str(error.value) == (
        f"{path}: not a file of review verdicts (no verdict, reviewed_at, run properties);"
        " export one from the page `tgdc review` writes"
    )


def test_verdicts_add_to_base_labels(detections: gpd.GeoDataFrame, tmp_path: Path) -> None:
    run = run_id(detections)
    # The labels the model was trained on: site 0 a data center, site 1 and 2 retail.
    base = gpd.GeoDataFrame(
        {"fid": [1, 2, 3], "class": ["datacenter", "retail", "retail"], "label": [1, 0, 0]},
        geometry=[square(0), square(1), square(2, 0.1)],
        crs="EPSG:4326",
    ).to_crs("EPSG:32618")
    base.to_file(tmp_path / "seed.gpkg")
    reviewed = write(
        tmp_path / "review.geojson",
        verdict(square(2), "accepted", "datacenter", 3, "2026-01-01T09:00:00Z", run),
    )
    merged = merge_verdicts([reviewed], base=[tmp_path / "seed.gpkg"])
    labels = merged.labels
    # The verdict first, then the base labels it did not judge, in EPSG:4326.
    assert labels["class"].tolist() == ["datacenter", "datacenter", "retail"]
    assert labels["verdict"].tolist()[0] == "accepted" and labels["verdict"].isna()[1:].all()
    assert labels.geometry.iloc[1].equals_exact(square(0), tolerance=1e-9)
    assert [str(r) for r in merged.replaced] == [
        f"run {run} #3: kept {reviewed}: accepted datacenter"
        f" (2026-01-01T09:00:00.000Z), dropped {tmp_path / 'seed.gpkg'}: label retail"
    ]
    assert merged.summary().endswith(", 2 earlier label(s) without a verdict; 1 judged twice")
    # A merged set with base labels is itself a base for the next round, not a verdict file.
    out = tmp_path / "merged.geojson"
    labels.to_file(out)
    with pytest.raises(TGDCError, match=r"feature\(s\) 2, 3 have no verdict .*; give such label"):
        read_verdicts(out)
    assert len(merge_verdicts([reviewed], base=[out]).labels) == 3
    # The next round's verdict on a site replaces its earlier verdict, both times written
    # as the page writes them, though the merge is read back with datetimes.
    later = write(
        tmp_path / "review2.geojson",
        verdict(square(2), "rejected", "retail", 3, "2026-02-01T09:00:00Z", run),
    )
    assert [str(r) for r in merge_verdicts([later], base=[out]).replaced] == [
        f"run {run} #3: kept {later}: rejected retail (2026-02-01T09:00:00.000Z),"
        f" dropped {out}: accepted datacenter (2026-01-01T09:00:00.000Z)"
    ]


def test_labelled_sites_names_the_label_on_each_detections_site(
    detections: gpd.GeoDataFrame,
) -> None:
    # Site 0 labelled as shifted by a fifth of its side (IoU 0.67), site 1 by half of it
    # (IoU 0.33: another site); the detections' own index is kept.
    labels = gpd.GeoDataFrame(
        {"class": ["warehouse", "datacenter"]},
        geometry=[square(0, shift=0.2), square(1, shift=0.5)],
        crs="EPSG:4326",
    )
    found = labelled_sites(detections.set_index(detections["id"] * 10), labels)
    assert found.to_dict() == {10: "warehouse", 20: None, 30: None}
    # Of two labels on a site, the one overlapping most.
    closer = gpd.GeoDataFrame(
        {"class": ["retail", "other"]}, geometry=[square(2, 0.3), square(2, 0.1)], crs=4326
    )
    assert labelled_sites(detections, closer).tolist() == [None, None, "other"]
    assert labelled_sites(detections, closer.iloc[:0]).tolist() == [None, None, None]


@pytest.fixture
def site_3_accepted(detections: gpd.GeoDataFrame, tmp_path: Path) -> Path:
    """A review export that accepts detection 3 (site 2) as a data center."""
    accepted = verdict(
        square(2), "accepted", "datacenter", 3, "2026-01-01T09:00Z", run_id(detections)
    )
    return write(tmp_path / "review.geojson", accepted)


def test_a_merge_over_base_labels_writes_numbers_as_numbers(
    site_3_accepted: Path, tmp_path: Path
) -> None:
    base = gpd.GeoDataFrame({"class": ["retail"], "label": [False]}, geometry=[square(5)], crs=4326)
    base.to_file(tmp_path / "seed.geojson")
    merged = merge_verdicts([site_3_accepted], base=[tmp_path / "seed.geojson"]).labels
    merged.to_file(tmp_path / "merged.geojson")
    properties = [
        f["properties"] for f in json.loads((tmp_path / "merged.geojson").read_text())["features"]
    ]
    assert [(p["detection_id"], p["score"]) for p in properties] == [(3, 0.7), (None, None)]


def test_a_file_of_no_features_holds_no_verdicts_or_labels(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.geojson")
    assert read_verdicts(empty).empty and read_base_labels(empty).empty
    assert merge_verdicts([empty], base=[write(tmp_path / "none.geojson")]).labels.empty
    # One file given twice would count its verdicts twice.
    for paths, base in [([empty, empty], []), ([empty], [tmp_path / "." / "empty.geojson"])]:
        with pytest.raises(TGDCError) as error:
            merge_verdicts(paths, base=base)
        assert str(error.value) == (
            f"{base[0] if base else empty}: given twice (as {empty} too); give each file once"
        )


def test_label_files_refuse_features_without_a_footprint(tmp_path: Path) -> None:
    # A table of points: advice for footprints, not for making points.
    table = tmp_path / "labels.csv"
    table.write_text("class,label,lon,lat\ndatacenter,true,-77.48,39.04\n")
    for read in (read_verdicts, read_base_labels):
        with pytest.raises(TGDCError) as error:
            read(table)
        assert str(error.value) == (
            f"{table}: has no geometry, only fields (class, label, lon, lat); give a file of"
            " polygons (footprints: GeoJSON, GeoPackage, Shapefile, GeoParquet, or a CSV with a"
            " WKT column of polygons)"
        )
    # A feature with no geometry is refused, not dropped.
    text = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"class": "retail", "label": False},
                    "geometry": g,
                }
                for g in (shapely.geometry.mapping(square(0)), None)
            ],
        }
    )
    (tmp_path / "holes.geojson").write_text(text)
    with pytest.raises(TGDCError) as error:
        read_base_labels(tmp_path / "holes.geojson")
    assert str(error.value) == (
        f"{tmp_path / 'holes.geojson'}: feature(s) 2 have a missing or empty geometry; draw"
        " their outlines or delete them"
    )


def test_base_labels_stored_as_text_are_booleans_checked_against_their_class(
    site_3_accepted: Path, tmp_path: Path
) -> None:
    reviewed = site_3_accepted
    # A CSV made a GeoPackage keeps its True/False as text; a seed class stays as it is.
    base = gpd.GeoDataFrame(
        {"class": ["datacenter", "retail", "datacemter"], "label": ["True", "false", "1"]},
        geometry=[square(0), square(1), square(4)],
        crs=4326,
    )
    base.to_file(tmp_path / "text.gpkg")
    merged = merge_verdicts([reviewed], base=[tmp_path / "text.gpkg"]).labels
    merged.to_file(tmp_path / "merged.geojson")
    features = json.loads((tmp_path / "merged.geojson").read_text())["features"]
    assert [f["properties"]["label"] for f in features] == [True, True, False, True]
    # 0/1 stored as reals (a shapefile's numeric field) are booleans too.
    base.assign(label=[1.0, 0.0, 1.0]).to_file(tmp_path / "reals.gpkg")
    merged = merge_verdicts([reviewed], base=[tmp_path / "reals.gpkg"]).labels
    assert merged["label"].tolist() == [True, True, False, True]
    base.assign(label=[1.0, 1.5, 1.0]).to_file(tmp_path / "bad.gpkg")
    with pytest.raises(TGDCError, match=re.escape("has non-boolean value(s) ['1.5']; use")):
        merge_verdicts([reviewed], base=[tmp_path / "bad.gpkg"])
    # A value that is no boolean, or a label that contradicts a known class, is refused.
    for label, message in [
        ("maybe", "field 'label' has non-boolean value(s) ['maybe']; use true/false"),
        ("yes", "feature(s) 2 have a label that contradicts their class; label is true for"),
    ]:
        base.assign(label=["True", label, "1"]).to_file(tmp_path / "bad.gpkg")
        with pytest.raises(TGDCError, match=re.escape(f"{tmp_path / 'bad.gpkg'}: {message}")):
            merge_verdicts([reviewed], base=[tmp_path / "bad.gpkg"])
