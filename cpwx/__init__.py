"""cp-whisperx: the CLI, the job and its stages.

Prefect's server reports usage to its vendor by default; the temporary (ephemeral) server
a job starts here would too. Off unless the user chose otherwise: nothing a job does leaves
the machine (tests/reliability/test_offline.py).
"""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The temporary server takes 12-14 s to start on 2 idle cores; Prefect gives up at 20 s, which a
# busy machine overruns.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
