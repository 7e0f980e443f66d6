#!/usr/bin/env python3
"""Validates every record and heartbeat a receiver stored against the upload contract (openapi.yaml's Record and
Heartbeat schemas).

Usage: contract.py OPENAPI_YAML RECEIVER_DB [RECEIVER_DB ...] [--heartbeats]
       contract.py OPENAPI_YAML --schema NAME FILE.json [FILE.json ...]
Prints "contract: N records valid, M heartbeats valid" and exits 0, or prints each violation (record id or device,
JSON path, message; never the personal values) and exits 1. Without --heartbeats there must be records; with it,
heartbeats (and records are optional). A real validator: jsonschema's Draft 2020-12 validator (OpenAPI 3.1's
schema dialect) with format checking, over the contract's own components.
"""
import json
import sqlite3
import sys

import jsonschema
import yaml


def record_validator(spec_path, name="Record"):
    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    # The schema with $refs resolving inside the spec document.
    schema = dict(spec["components"]["schemas"][name])
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["components"] = spec["components"]
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=checker)


def validate_documents(spec_path, name, paths):
    """`contract.py OPENAPI --schema NAME FILE.json ...`: each JSON document against one named schema of the contract
    (what the receiver answered or kept: a Fleet, a StillRequestAccepted, a StillReceipt, a HeartbeatReceipt)."""
    validator = record_validator(spec_path, name)
    bad = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            bad += 1
            where = "/".join(str(p) for p in err.absolute_path) or "(document)"
            print(f"contract: {path}: {where}: violates '{err.validator}' ({err.validator_value!r:.80})")
    if bad:
        return 1
    print(f"contract: {len(paths)} {name} valid")
    return 0


def main(argv):
    if len(argv) >= 5 and argv[2] == "--schema":
        return validate_documents(argv[1], argv[3], argv[4:])
    want_heartbeats = "--heartbeats" in argv
    argv = [a for a in argv if a != "--heartbeats"]
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    validator = record_validator(argv[1])
    hb_validator = record_validator(argv[1], "Heartbeat")
    total, bad, beats = 0, 0, 0
    for db in argv[2:]:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'heartbeats'").fetchone():
            for device, blob in con.execute("SELECT device_id, json FROM heartbeats"):
                beats += 1
                try:
                    beat = json.loads(blob)
                except ValueError as e:
                    bad += 1
                    print(f"contract: heartbeat of {device}: not JSON ({e.msg})")
                    continue
                for err in sorted(hb_validator.iter_errors(beat), key=lambda e: list(e.absolute_path)):
                    bad += 1
                    where = "/".join(str(p) for p in err.absolute_path) or "(heartbeat)"
                    print(f"contract: heartbeat of {device}: {where}: violates '{err.validator}' ({err.validator_value!r:.80})")
        for rid, blob in con.execute("SELECT id, json FROM received ORDER BY received_at"):
            total += 1
            try:
                record = json.loads(blob)
            except ValueError as e:
                bad += 1
                print(f"contract: record {rid}: not JSON ({e.msg})")
                continue
            for err in sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path)):
                bad += 1
                where = "/".join(str(p) for p in err.absolute_path) or "(record)"
                # The validator's message quotes the offending value, which may be personal data: name the rule only.
                print(f"contract: record {rid}: {where}: violates '{err.validator}' ({err.validator_value!r:.80})")
            if str(rid).lower() != str(record.get("id", "")).lower():
                bad += 1
                print(f"contract: record {rid}: stored under a key that is not its id")
    if want_heartbeats and beats == 0:
        print("contract: no heartbeats to validate")
        return 1
    if total == 0 and not want_heartbeats:
        print("contract: no records to validate")
        return 1
    if bad:
        print(f"contract: {bad} violation(s) in {total} records and {beats} heartbeats")
        return 1
    print(f"contract: {total} records valid" + (f", {beats} heartbeats valid" if beats else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
