"""Sends track calls at a steady pace through Segment's official Python library, for tests that disturb the
server meanwhile (a database restart). Every call carries its account as context.groupId.

Settings come from the environment: HOST, WRITE_KEY, ACCOUNTS, BATCHES (flushes), PER_BATCH (calls per flush),
PAUSE (seconds between flushes). Prints {"sent": n}; exits non-zero if the client reports any failed upload.
"""
import datetime
import json
import os
import sys
import time

from segment.analytics import Client

errors = []
accounts = int(os.environ.get("ACCOUNTS", "10"))
batches = int(os.environ.get("BATCHES", "40"))
per_batch = int(os.environ.get("PER_BATCH", "50"))
pause = float(os.environ.get("PAUSE", "0.1"))
day = datetime.datetime(2026, 11, 20, 10, 0, 0, tzinfo=datetime.timezone.utc)

# Retries with exponential backoff on 5xx and connection errors: 10 tries wait out a restart of many seconds.
client = Client(write_key=os.environ["WRITE_KEY"], host=os.environ["HOST"],
                on_error=lambda e, batch: errors.append(repr(e)), max_retries=10, upload_size=per_batch)
sent = 0
for b in range(batches):
    for i in range(per_batch):
        n = b * per_batch + i
        client.track(f"u{n % 97}", "Report Exported", {"n": n}, timestamp=day,
                     context={"groupId": f"acct-{n % accounts}"})
        sent += 1
    client.flush()
    time.sleep(pause)
client.flush()

if errors:
    print("upload errors:", errors, file=sys.stderr)
    sys.exit(1)
print(json.dumps({"sent": sent}))
