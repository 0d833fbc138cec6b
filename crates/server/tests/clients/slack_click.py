"""Clicks an alert's buttons as Slack does: the interactivity payload form-encoded, signed with slack_sdk's
SignatureVerifier (v0 HMAC-SHA256 of "v0:{timestamp}:{body}").

Settings: HOST, SECRET (the app's signing secret), SIGNAL (the signal's id). Sends seven requests and prints
their statuses and bodies as JSON: "owner" (ann's user, correctly signed, acknowledge), "forged" (signed with
another secret), "stale" (signed six minutes ago), "stranger" (a user who does not own the account), "leader"
(ann's leader, mark contacted), "snooze" (ann again, snooze a week), "picked" (ann, a day picked in the date
picker, UNTIL).
"""
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

from slack_sdk.signature import SignatureVerifier

host, secret, signal = os.environ["HOST"], os.environ["SECRET"], os.environ["SIGNAL"]


def click(user, secret, age=0, action="bellwether_ack"):
    if action == "bellwether_snooze_until":
        # A date picker has no value: the signal is in its block's id.
        act = {"type": "datepicker", "action_id": action, "block_id": "bellwether:" + signal,
               "selected_date": os.environ["UNTIL"], "initial_date": None, "action_ts": str(time.time())}
    else:
        act = {"type": "button", "action_id": action, "value": signal, "action_ts": str(time.time())}
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user},
        "actions": [act],
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    ts = str(int(time.time()) - age)
    sig = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    req = urllib.request.Request(host + "/slack/interactivity", data=body.encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sig,
    })
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            return {"status": r.status, "body": json.loads(r.read())}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": json.loads(e.read())}


out = {
    "forged": click("U0ANN", "not-the-secret"),
    "stale": click("U0ANN", secret, age=360),
    "stranger": click("U0BOB", secret),
    "owner": click("U0ANN", secret),
    "leader": click("U0LEA", secret, action="bellwether_contacted"),
    "snooze": click("U0ANN", secret, action="bellwether_snooze"),
    "picked": click("U0ANN", secret, action="bellwether_snooze_until"),
}
print(json.dumps(out))
