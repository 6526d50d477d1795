"""rolloutctl: a GitOps controller for the staged rollout of middleware releases."""

__version__ = "0.1.0"
