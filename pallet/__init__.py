"""pallet: a daemonless container engine with its own OCI runtime."""

__version__ = "0.1.0"
