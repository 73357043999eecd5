"""Building artifacts: cache key, lock readers, wheels, layout, zips, the two builders (pure)."""
