"""How outputs look when opened: score colours, a QGIS style in the GeoPackage, mask colours.

One colour scale serves every output that draws detections: :data:`SCORE_CLASSES` colours
a detection's outline by its mean probability in QGIS (:func:`qgis_style`, stored in the
GeoPackage's ``layer_styles`` table, which QGIS reads when the layer is opened) and in the
HTML report (:mod:`.report`). :data:`MASK_COLOURS` is the colour table of the mask COG.

pandas and pyogrio are imported by :func:`write_qgis_style` only: a run opens its mask COG
(:mod:`.rasters`, with :data:`MASK_COLOURS`) before its first tile.
"""

import datetime as dt
import os
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    import geopandas as gpd

#: Outline colour of a detection by its score: (lowest score, highest score, RGB hex),
#: from faint yellow to dark red.
SCORE_CLASSES = (
    (0.0, 0.6, "#fecc5c"),
    (0.6, 0.7, "#fd8d3c"),
    (0.7, 0.8, "#f03b20"),
    (0.8, 0.9, "#bd0026"),
    (0.9, 1.0, "#67000d"),
)

#: Colour table of the uint8 mask COG (value: RGBA): data centers crimson, background
#: black, nodata transparent (GDAL marks the nodata entry so; TIFF stores no other alpha).
MASK_COLOURS = {0: (0, 0, 0, 255), 1: (220, 20, 60, 255), 255: (255, 255, 255, 0)}

#: Outline width of detections in QGIS, in millimetres.
OUTLINE_MM = 0.6

#: Name of the style in the ``layer_styles`` table.
STYLE_NAME = "tgdc detections by score"


def _rgba(colour: str) -> str:
    """QGIS's ``r,g,b,a`` form of a ``#rrggbb`` colour.

    Args:
        colour: the hex colour.

    Returns:
        E.g. ``"254,204,92,255"``.
    """
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"{red},{green},{blue},255"


def qgis_style(score_field: str = "score", area_field: str = "area_m2") -> str:
    """A QGIS layer style (QML): outlines coloured by score, labels with the area.

    Args:
        score_field: the field holding the score (0 to 1).
        area_field: the field holding the area, in m².

    Returns:
        The QML document.
    """
    ranges, symbols = [], []
    for number, (lower, upper, colour) in enumerate(SCORE_CLASSES):
        label = f"score {lower:.1f} - {upper:.1f}"
        ranges.append(
            f'<range lower="{lower}" upper="{upper}" symbol="{number}" label="{label}"'
            ' render="true"/>'
        )
        symbols.append(
            f'<symbol type="fill" name="{number}" alpha="1" clip_to_extent="1">'
            '<layer class="SimpleFill" enabled="1" pass="0" locked="0">'
            '<Option type="Map">'
            '<Option type="QString" name="style" value="no"/>'
            f'<Option type="QString" name="outline_color" value="{_rgba(colour)}"/>'
            '<Option type="QString" name="outline_style" value="solid"/>'
            f'<Option type="QString" name="outline_width" value="{OUTLINE_MM}"/>'
            '<Option type="QString" name="outline_width_unit" value="MM"/>'
            "</Option></layer></symbol>"
        )
    label = escape(f"format_number(\"{area_field}\", 0) || ' m²'", {'"': "&quot;"})
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.34" styleCategories="Symbology|Labeling">\n'
        f'<renderer-v2 type="graduatedSymbol" attr="{score_field}" graduatedMethod="GraduatedColor"'
        ' symbollevels="0" enableorderby="0" forceraster="0">\n'
        f"<ranges>{''.join(ranges)}</ranges>\n"
        f"<symbols>{''.join(symbols)}</symbols>\n"
        "</renderer-v2>\n"
        '<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName="{label}" isExpression="1" fontSize="9" fontSizeUnit="Point"'
        ' textColor="0,0,0,255" fontWeight="75">'
        '<text-buffer bufferDraw="1" bufferSize="1" bufferSizeUnits="MM"'
        ' bufferColor="255,255,255,255"/></text-style>'
        '<placement placement="1" priority="5"/>'
        '<rendering obstacle="1" scaleVisibility="0" drawLabels="1"/>'
        "</settings></labeling>\n"
        "<layerGeometryType>2</layerGeometryType>\n"
        "</qgis>\n"
    )


def write_qgis_style(
    path: str | os.PathLike[str], layer: str = "detections", geometry_column: str = "geom"
) -> None:
    """Store :func:`qgis_style` as the default style of a GeoPackage layer.

    Writes the ``layer_styles`` table QGIS reads and writes (an attributes table, listed
    in ``gpkg_contents``), so QGIS opens the layer styled.

    Args:
        path: the GeoPackage (being written: stage it, see
            :class:`~torchgeo_datacenters.inference.Outputs`).
        layer: the styled layer.
        geometry_column: its geometry column (GDAL's default for GeoPackages: ``geom``).
    """
    import pandas as pd
    import pyogrio

    styles = pd.DataFrame(
        {
            "f_table_catalog": [""],
            "f_table_schema": [""],
            "f_table_name": [layer],
            "f_geometry_column": [geometry_column],
            "styleName": [STYLE_NAME],
            "styleQML": [qgis_style()],
            "styleSLD": [""],
            "useAsDefault": [True],
            "description": ["outlines coloured by score, labels with the area (m²)"],
            "owner": [""],
            "ui": [""],
            "update_time": [pd.Timestamp(dt.datetime.now(dt.UTC)).tz_localize(None)],
        }
    )
    pyogrio.write_dataframe(
        styles, path, layer="layer_styles", driver="GPKG", append=False, layer_options={"FID": "id"}
    )


#: Colour of a site by its status: the statuses of ``tgdc change``
#: (:data:`~torchgeo_datacenters.detections.change.STATUSES`) and of ``tgdc compare``
#: (:data:`~torchgeo_datacenters.detections.compare.STATUSES`), exactly.
STATUS_COLOURS = {
    "new": "#d7191c",
    "expanded": "#fdae61",
    "unchanged": "#7f7f7f",
    "shrunk": "#abd9e9",
    "gone": "#2c7bb6",
    "uncertain": "#c2a5cf",
    "matched": "#1a9641",
    "candidate": "#d7191c",
    "missed": "#2c7bb6",
}


def write_styled_gpkg(detections: "gpd.GeoDataFrame", path: str | os.PathLike[str]) -> None:
    """Write detections as a GeoPackage layer that QGIS opens styled.

    Args:
        detections: detections in EPSG:4326.
        path: the file to write (staged, see
            :class:`~torchgeo_datacenters.outputs.Outputs`).
    """
    # geopandas loads with the writer, not with this module (tgdc detect's first tile).
    from ..detections.writers import GPKG_LAYER, write_gpkg

    write_gpkg(detections, path)
    write_qgis_style(path, layer=GPKG_LAYER)
