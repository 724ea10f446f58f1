#!/usr/bin/env python3
"""The applications `oscar loadtest` sends (every example, and every golden case's patch
applied to its base example), COPIES times each with a fresh application_id, as JSON lines
for `oscar batch`: the in-process side of the service overhead in scripts/bench/all.sh.

    python3 scripts/bench/mix_jsonl.py COPIES > mix.jsonl
"""

import glob
import json
import os
import sys


def merge_patch(target, patch):
    """RFC 7396, as oscar's loadtest applies a golden case's patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")
bases = {os.path.basename(p)[:-5]: json.load(open(p)) for p in sorted(glob.glob(f"{root}/examples/*.json"))}
mix = list(bases.values())
for p in sorted(glob.glob(f"{root}/tests/cases/*.json")):
    case = json.load(open(p))
    if case.get("base") in bases and "patch" in case:
        mix.append(merge_patch(bases[case["base"]], case["patch"]))
for copy in range(int(sys.argv[1])):
    for i, app in enumerate(mix):
        print(json.dumps(dict(app, application_id=f"MIX-{copy:04d}-{i:03d}"), ensure_ascii=False))
