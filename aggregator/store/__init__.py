"""The archive: SQLAlchemy models, engine set-up, migrations and the repository the rest of the code uses."""

from aggregator.store.db import connect, upgrade
from aggregator.store.repository import Archive

__all__ = ["Archive", "connect", "upgrade"]
