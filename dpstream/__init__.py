"""dpstream: differential privacy under continual observation."""

__version__ = "0.1.0"
