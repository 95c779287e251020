"""Commands of the ``aggregator`` CLI, one module per topic, each registering itself on ``aggregator.cli.app``."""
