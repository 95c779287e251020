"""aggregator: a Scrapy-based re-publishing news crawler."""

__version__ = "0.1.0"
