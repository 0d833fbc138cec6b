"""Sends identify, group and track calls through an official client library (Segment's or RudderStack's).

Settings come from the environment: SDK (segment|rudder), HOST, WRITE_KEY, GZIP (0|1), ACCOUNT, USERS,
EVENTS (track calls per user and event name). Every call is dated 2026-01-15. A user who tracks before their
group call ("late") shows that events of users not yet linked to an account are kept and attributed later.
Exits non-zero if the client reports any failed upload.
"""
import datetime
import os
import sys

sdk = os.environ["SDK"]
if sdk == "segment":
    from segment.analytics import Client
else:
    from rudderstack.analytics import Client

errors = []
host = os.environ["HOST"]
key = os.environ["WRITE_KEY"]
gzip = os.environ.get("GZIP") == "1"
account = os.environ["ACCOUNT"]
users = int(os.environ.get("USERS", "3"))
events = int(os.environ.get("EVENTS", "5"))
day = datetime.datetime(2026, 1, 15, 10, 0, 0, tzinfo=datetime.timezone.utc)

client = Client(write_key=key, host=host, gzip=gzip, on_error=lambda e, batch: errors.append(repr(e)),
                max_retries=5, upload_size=50)

for u in range(users):
    uid = f"{account}-user-{u}"
    client.identify(uid, {"email": f"{uid}@example.com", "name": f"User {u}", "title": "Analyst"}, timestamp=day)
    client.group(uid, account, {"name": f"Account {account}", "plan": "pro", "seats": 25}, timestamp=day)
    for i in range(events):
        client.track(uid, "Report Exported", {"i": i}, timestamp=day)
        client.track(uid, "Dashboard Viewed", {"i": i}, timestamp=day)
client.flush()

late = f"{account}-late"
client.track(late, "Report Exported", {}, timestamp=day)
client.track(late, "Report Exported", {}, timestamp=day)
client.flush()
client.group(late, account, {}, timestamp=day)
client.flush()
client.join() if hasattr(client, "join") else None

if errors:
    print("upload errors:", errors, file=sys.stderr)
    sys.exit(1)
print("sent")
