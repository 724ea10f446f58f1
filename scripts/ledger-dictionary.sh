#!/bin/bash
# Writes the sample that new ledger files take as their compression dictionary
# (src/ledger/dictionary.jsonl): the shipped examples' applications and reviews, one JSON
# value a line, in the compact form the ledger stores them (applications with sorted keys).
# Run from the repository root after `cargo build --release`; nothing else reads this script.
# Existing ledger files keep the dictionary they were created with, so regenerating it only
# changes how well new files compress.
set -euo pipefail
oscar=${OSCAR:-target/release/oscar}
compact='import json, sys
print(json.dumps(json.load(sys.stdin), separators=(",", ":"), ensure_ascii=False, sort_keys=sys.argv[1] == "sorted"))'
for f in examples/us-example.json examples/helsinki-example.json; do
    python3 -c "$compact" sorted <"$f"
done
for f in examples/spec-example.json examples/us-example.json examples/helsinki-example.json; do
    # Exit 1 is an escalation, not a failure.
    { "$oscar" review "$f" --json || [ $? -eq 1 ]; } | python3 -c "$compact" struct
done
