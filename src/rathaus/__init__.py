"""rathaus: eine Kommune digital von Ende zu Ende."""

__version__ = "0.1.0"
