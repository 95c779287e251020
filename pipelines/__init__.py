"""Item pipelines, one module per step, in the order ``aggregator.settings.ITEM_PIPELINES`` gives."""
