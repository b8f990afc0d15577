"""The database: the store handle and its transactions, the schema and its migrations.

`from pipeline.db import Store` is how every part opens the database; each part keeps its
own queries (the audience's in `audience.queries`, delivery's in `delivery`, feedback's in
`feedback`).
"""

from pipeline.db.store import Store, Transaction

__all__ = ["Store", "Transaction"]
