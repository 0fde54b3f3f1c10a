"""Validate STAC objects offline against the JSON schemas kept in tests/data/stac_schemas.

pystac's validator fetches the schemas of extensions from their URLs; here every schema
comes from pystac's own copies (STAC core, GeoJSON) or from tests/data/stac_schemas
(label, MLM and the schemas MLM refers to), and asking for any other fails the test.
"""

import json
from pathlib import Path
from typing import Any

import pystac
from pystac.validation import JsonSchemaSTACValidator

SCHEMAS = Path(__file__).parents[1] / "data" / "stac_schemas"

#: Schema URL to stored file.
STORED = {
    "https://stac-extensions.github.io/label/v1.0.1/schema.json": "label-v1.0.1.json",
    "https://stac-extensions.github.io/mlm/v1.4.0/schema.json": "mlm-v1.4.0.json",
    "https://stac-extensions.github.io/classification/v1.1.0/schema.json": (
        "classification-v1.1.0.json"
    ),
    "https://stac-extensions.github.io/processing/v1.1.0/schema.json": "processing-v1.1.0.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json": "raster-v1.1.0.json",
}


class OfflineValidator(JsonSchemaSTACValidator):
    """pystac's JSON-schema validator reading stored schemas only."""

    def __init__(self) -> None:
        super().__init__()
        for url, name in STORED.items():
            schema = json.loads((SCHEMAS / name).read_text())
            # processing v1.1.0's file names itself v1.0.0: file it under its URL.
            schema["$id"] = url
            self.schema_cache[url] = schema

    def _get_schema(self, schema_uri: str) -> dict[str, Any]:
        url = schema_uri.split("#")[0]
        if url not in self.schema_cache:
            raise AssertionError(f"schema {url} is not stored in tests/data/stac_schemas")
        return self.schema_cache[url]


def validate(stac_object: pystac.STACObject) -> list[str]:
    """Validate an object against its core and extension schemas, offline.

    Returns:
        The schema URLs it was validated against.
    """
    previous = pystac.validation.RegisteredValidator.get_validator()
    pystac.validation.set_validator(OfflineValidator())
    try:
        return stac_object.validate()
    finally:
        pystac.validation.set_validator(previous)
