"""Outputs made for people and catalogues: STAC items, the HTML map report, layer styles."""
