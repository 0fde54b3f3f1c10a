"""Sites for reproducing the seed project: its label file plus IM3 data-center footprints.

Usage::

    python scripts/seed_sites.py SEED_LABELS IM3_FOOTPRINTS OUTPUT

Writes OUTPUT (GeoJSON, CRS84) with the seed project's columns ``fid``, ``class``,
``label``, ``name``: every seed polygon (its one misspelt ``datacemter`` spelled
``datacenter``), then every IM3 building or campus polygon that overlaps no seed polygon,
as a data center. IM3 points carry no footprint and are left out.
"""

import argparse
from pathlib import Path

import geopandas as gpd
import pandas as pd

from torchgeo_datacenters.naip import DATACENTER_CLASS
from torchgeo_datacenters.utils import atomic_output

MISSPELLINGS = {"datacemter": DATACENTER_CLASS}
"""Class names of the seed label file that are typing errors, and what they mean."""


def seed_sites(seed: gpd.GeoDataFrame, im3: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the seed polygons plus the IM3 polygons that are not among them.

    Args:
        seed: the seed label file (``class``, ``label``, ``name``; any CRS).
        im3: IM3 footprints (``name``, ``type``; any CRS).

    Returns:
        The sites in CRS84 with ``fid`` numbered from 1.
    """
    seed = seed.to_crs("OGC:CRS84")
    seed = seed.assign(**{"class": seed["class"].replace(MISSPELLINGS)})
    im3 = im3.to_crs("OGC:CRS84")
    im3 = im3[im3.geom_type.isin(["Polygon", "MultiPolygon"])]
    overlapping = im3.sjoin(seed[["geometry"]], predicate="intersects").index
    im3 = im3.drop(index=overlapping.unique())
    extra = gpd.GeoDataFrame(
        {"class": DATACENTER_CLASS, "label": True, "name": im3["name"].fillna("")},
        geometry=im3.geometry.values,
        crs=im3.crs,
    )
    columns = ["class", "label", "name", "geometry"]
    sites = pd.concat([seed[columns], extra[columns]], ignore_index=True)
    sites.insert(0, "fid", range(1, len(sites) + 1))
    return gpd.GeoDataFrame(sites, geometry="geometry", crs="OGC:CRS84")


def main() -> None:
    """Read the two label files and write the sites."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seed", type=Path, help="the seed project's label file")
    parser.add_argument("im3", type=Path, help="IM3 data-center footprints")
    parser.add_argument("output", type=Path, help="the GeoJSON to write")
    args = parser.parse_args()
    sites = seed_sites(gpd.read_file(args.seed), gpd.read_file(args.im3))
    with atomic_output(args.output) as tmp:
        sites.to_file(tmp, driver="GeoJSON")
    print(f"{args.output}: {len(sites)} sites, {int(sites['label'].sum())} data centers")


if __name__ == "__main__":
    main()
