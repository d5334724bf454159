"""imagecheck: verify built Docker images and their dependencies, layer by layer."""

__version__ = "0.1.0"
