"""Signs Stripe events with the official `stripe` library's signing code and posts them to the server.

Settings: HOST, SECRET (whsec_...), ACCOUNT. Events follow Stripe's API shapes (API version 2024-06-20). The
library's own `Webhook.construct_event` checks each header first, so the server is held to Stripe's scheme.
Prints one line per event: `<event id> <HTTP status> <body>`.
"""
import json
import os
import time

import requests
import stripe

host = os.environ["HOST"]
secret = os.environ["SECRET"]
account = os.environ["ACCOUNT"]
now = int(time.time())
day = 1768471200  # 2026-01-15T10:00:00Z


def price(quantity, amount=1500):
    return {
        "object": "subscription_item", "id": "si_1", "quantity": quantity, "subscription": "sub_1",
        "price": {"object": "price", "id": "price_pro", "nickname": "Pro", "lookup_key": "pro_monthly",
                  "product": "prod_1", "unit_amount": amount, "currency": "usd", "type": "recurring",
                  "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}},
    }


def subscription(quantity, status="active", **extra):
    s = {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status, "currency": "usd",
         "start_date": day, "created": day, "current_period_start": day, "cancel_at_period_end": False,
         "canceled_at": None, "ended_at": None, "metadata": {},
         "items": {"object": "list", "data": [price(quantity)], "has_more": False, "url": "/v1/subscription_items"}}
    s.update(extra)
    return s


def event(eid, kind, obj, previous=None):
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {"id": eid, "object": "event", "api_version": "2024-06-20", "created": day, "livemode": False,
            "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}, "type": kind, "data": data}


events = [
    # The subscription arrives before the customer carries its account id: it waits, then is stored.
    event("evt_sub_created", "customer.subscription.created", subscription(10)),
    event("evt_cus_updated", "customer.updated",
          {"id": "cus_1", "object": "customer", "email": "billing@example.com", "name": "Acme",
           "metadata": {"account_id": account}}, {"metadata": {}}),
    event("evt_sub_updated", "customer.subscription.updated", subscription(12), {"items": {"object": "list", "data": [price(10)]}}),
    event("evt_inv_paid", "invoice.paid",
          {"id": "in_1", "object": "invoice", "customer": "cus_1", "subscription": "sub_1", "currency": "usd",
           "amount_due": 18000, "amount_paid": 18000, "status": "paid"}),
    event("evt_inv_failed", "invoice.payment_failed",
          {"id": "in_2", "object": "invoice", "customer": "cus_1", "subscription": "sub_1", "currency": "usd",
           "amount_due": 18000, "amount_paid": 0, "status": "open"}),
]


def send(ev, header=None):
    payload = json.dumps(ev)
    if header is None:
        signature = stripe.WebhookSignature._compute_signature(f"{now}.{payload}", secret)
        header = f"t={now},v1={signature}"
        # The library accepts what it signed; the server must too.
        stripe.Webhook.construct_event(payload, header, secret)
    r = requests.post(host + "/webhooks/stripe", data=payload,
                      headers={"Content-Type": "application/json", "Stripe-Signature": header})
    print(ev["id"], r.status_code, r.text.replace("\n", " "))


for ev in events:
    send(ev)
# A resend of a delivered event.
send(events[3])
# A signature made with another secret.
bad = stripe.WebhookSignature._compute_signature(f"{now}.{json.dumps(events[4])}", "whsec_wrong")
send(events[4], f"t={now},v1={bad}")
# Secret rotation: an old signature next to the good one.
payload = json.dumps(event("evt_sub_deleted", "customer.subscription.deleted",
                           subscription(12, status="canceled", canceled_at=day, ended_at=day)))
good = stripe.WebhookSignature._compute_signature(f"{now}.{payload}", secret)
r = requests.post(host + "/webhooks/stripe", data=payload,
                  headers={"Content-Type": "application/json", "Stripe-Signature": f"t={now},v1={bad},v1={good}"})
print("evt_sub_deleted", r.status_code, r.text.replace("\n", " "))
# A stale timestamp.
old = now - 400
sig = stripe.WebhookSignature._compute_signature(f"{old}.{json.dumps(events[0])}", secret)
send(events[0], f"t={old},v1={sig}")
