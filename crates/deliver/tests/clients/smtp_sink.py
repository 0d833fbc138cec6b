"""A real SMTP server (aiosmtpd) on loopback that parses each message it accepts with Python's email package.

Settings from the environment: PORT, OUT (a file that gets one JSON line per accepted message: message_id,
from, to, subject, text, html), REFUSE_FIRST=1 (the first message is answered 451, a transient refusal).
A recipient at nobody@… is refused with 550 (no such mailbox). Prints "ready" once it listens.
"""
import email
import json
import os
import time
from email import policy

from aiosmtpd.controller import Controller

OUT = os.environ["OUT"]


class Sink:
    def __init__(self):
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        if os.environ.get("REFUSE_FIRST") == "1" and self.n == 1:
            return "451 4.3.0 try again later"
        m = email.message_from_bytes(envelope.content, policy=policy.default)
        text, html = m.get_body(("plain",)), m.get_body(("html",))
        record = {
            "message_id": m["Message-ID"],
            "from": m["From"],
            "to": envelope.rcpt_tos,
            "subject": m["Subject"],
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
        }
        with open(OUT, "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 Message accepted"


controller = Controller(Sink(), hostname="127.0.0.1", port=int(os.environ["PORT"]))
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
