"""Analytics: crime-pattern models over recorded incidents (short-term hotspot prediction in ``hotspots``)."""
