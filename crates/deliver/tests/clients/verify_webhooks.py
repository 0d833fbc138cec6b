"""Verifies signed webhook deliveries with the official standardwebhooks package, as a receiver would.

Reads a JSON file (argv[1]) holding a list of {"headers", "body"} as the receiver got them, and the secrets
(argv[2:], whsec_...). Each delivery must verify under every secret (a rotation signs with all of them), and
must be refused with its body changed by one character and under a secret nobody holds. Prints
{"verified", "refused_tampered"}; exits non-zero on the first delivery that fails.
"""
import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

deliveries = json.load(open(sys.argv[1]))
secrets = sys.argv[2:]
stranger = Webhook("whsec_" + "c3RyYW5nZXI=")
verified = refused = 0
for n, d in enumerate(deliveries):
    for secret in secrets:
        body = Webhook(secret).verify(d["body"], d["headers"])
        if body != json.loads(d["body"]):
            sys.exit(f"delivery {n}: the verified body reads back otherwise")
        verified += 1
    tampered = d["body"].replace("}", " }", 1)
    try:
        Webhook(secrets[0]).verify(tampered, d["headers"])
        sys.exit(f"delivery {n}: a tampered body verified")
    except WebhookVerificationError:
        refused += 1
    try:
        stranger.verify(d["body"], d["headers"])
        sys.exit(f"delivery {n}: verified under a secret nobody holds")
    except WebhookVerificationError:
        pass
print(json.dumps({"verified": verified, "refused_tampered": refused}))
