"""Geodetic helpers: coordinate-system conversion between WGS-84, GCJ-02 and BD-09."""
