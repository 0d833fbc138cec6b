"""Checks Slack messages with the official slack_sdk package's Block Kit models.

Reads a JSON file (argv[1]) holding a list of message bodies as a Slack incoming webhook received them. Each
must have fallback text and blocks that slack_sdk parses into its block classes, that pass its validation
(lengths, field counts), and that serialise back to what was sent. Prints {"messages", "blocks", "types"};
exits non-zero on the first message that fails.
"""
import json
import sys

from slack_sdk.models.blocks import Block

messages = json.load(open(sys.argv[1]))
types = set()
total = 0
for n, m in enumerate(messages):
    if not m.get("text"):
        sys.exit(f"message {n} has no fallback text")
    blocks = Block.parse_all(m["blocks"])
    for b, raw in zip(blocks, m["blocks"]):
        if type(b) is Block:
            sys.exit(f"message {n}: slack_sdk does not know the block {raw!r}")
        b.validate_json()
        if b.to_dict() != raw:
            sys.exit(f"message {n}: the block reads back otherwise: {b.to_dict()!r} != {raw!r}")
        types.add(raw["type"])
        total += 1
print(json.dumps({"messages": len(messages), "blocks": total, "types": sorted(types)}))
