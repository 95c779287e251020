"""CLI commands, one module per topic; each registers itself on ``aggregator.cli.app`` when imported."""
