"""One module per pipeline stage: ask the store, compute on a miss, write back. No Prefect here."""
