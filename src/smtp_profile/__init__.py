"""smtp-profile: a self-hosted SMTP relay profile service."""

__version__ = "0.1.0"
