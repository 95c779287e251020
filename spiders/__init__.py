"""One module per source site (navigation + a pure extractor class); Scrapy's spider loader finds them here."""
