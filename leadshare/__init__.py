"""leadshare: share sales leads fairly inside a team, by rules everyone can check."""

__version__ = "0.1.0"
