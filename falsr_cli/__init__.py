"""falsr: fast, accurate and lightweight super-resolution by neural architecture search."""

__version__ = "0.1.0"
