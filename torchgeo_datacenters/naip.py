"""Facts about NAIP imagery and the seed project's labels, defined once for the package.

Every other module imports these instead of writing them again. Sources:

* USDA Farm Production and Conservation Business Center, *National Agriculture Imagery
  Program (NAIP)* information sheet and the Microsoft Planetary Computer ``naip`` collection:
  4 bands (red, green, blue, near infrared), 8-bit unsigned integers, 0.6 m ground sample
  distance for acquisitions since 2018 (1 m before), delivered in NAD83 UTM zones.
* The seed project's label file (``seed_datacenters.geojson``): field ``class`` holds
  ``datacenter`` (``label`` true) or one of the hard negatives ``warehouse``, ``retail`` and
  ``other`` (``label`` false).
"""

BANDS = ("R", "G", "B", "NIR")
"""Band names in NAIP's band order: red, green, blue, near infrared (NIR last)."""

GSD = 0.6
"""Ground sample distance of current NAIP, in metres per pixel (0.6 m since 2018)."""

DTYPE = "uint8"
"""NumPy name of NAIP's pixel type (8-bit unsigned digital numbers)."""

VALUE_RANGE = (0, 255)
"""Smallest and largest raw pixel value of :data:`DTYPE`, as ``(min, max)``."""

DATACENTER_CLASS = "datacenter"
"""The ``class`` of data centers in the seed label file, the only class labelled true."""

WAREHOUSE_CLASS = "warehouse"
"""The ``class`` of warehouses in the seed label file: the commonest look-alike."""

RETAIL_CLASS = "retail"
"""The ``class`` of large retail buildings in the seed label file."""

OTHER_CLASS = "other"
"""The ``class`` of any other hard negative, and of a negative whose label file names none."""

HARD_NEGATIVE_CLASSES = (WAREHOUSE_CLASS, RETAIL_CLASS, OTHER_CLASS)
"""The ``class`` values of the seed label file's hard negatives: look-alikes labelled false.

A new class is added by name here (a constant of its own) and given a building spec in
:data:`torchgeo_datacenters.synthetic.BUILDINGS`; no code depends on the order of this tuple.
"""
