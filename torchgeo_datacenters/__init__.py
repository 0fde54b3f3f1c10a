"""torchgeo-datacenters: find hyperscale data centers in NAIP aerial imagery."""

__version__ = "0.1.0"
