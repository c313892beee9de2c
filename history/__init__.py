"""Job history: what each job was given and what it cost (``records.JobRecord``), kept in the
``job_history`` table of the index, so the optimizer can learn from it and ``cpwx rate`` can
grade it."""

from ._history import History

__all__ = ["History"]
