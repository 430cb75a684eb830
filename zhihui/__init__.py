"""zhihui — 情指行一体化 command-center platform."""

__version__ = "0.1.0"
