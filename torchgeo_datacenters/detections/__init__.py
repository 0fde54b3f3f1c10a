"""Detection tables without torch: acquisition dates, change between vintages, inventories.

Every module here imports only geopandas, shapely, pyproj, numpy, pandas (and rasterio for
reading a GeoTIFF's tags), so tables written by ``tgdc detect`` or ``tgdc scan`` can be
analysed where torch is not installed.
"""
