"""CLI commands by topic; each module registers itself on ``aggregator.cli.app`` when imported."""
