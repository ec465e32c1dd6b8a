"""Deforestation-free proof for cacao and coffee (Regulation (EU) 2023/1115): production
plots and their geolocation, checks against forest-cover and tree-cover-loss layers, and the
due diligence geolocation file.

The pure parts live here first and know nothing of the database or of requests:
``geometry`` (validating a plot's point or polygon), ``territory`` (Colombia and its
municipalities as areas), ``formats`` (reading GeoJSON and KML), ``forest`` (the check
against rasters read by windows) and ``eudr_file`` (the GeoJSON the EU information system
accepts).
"""
