"""Products, grades, units, harvest listings, photos, reference prices and search."""
