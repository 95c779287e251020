"""The read API, feeds and article pages the downstream site serves (``aggregator serve``)."""

from aggregator.api.app import create_app

__all__ = ["create_app"]
