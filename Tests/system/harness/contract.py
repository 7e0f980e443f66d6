"""The contract, Sources/checkpoint-receiver/openapi.yaml, checked by the real validator Tests/system/lib/contract.py
(as the bash tests ran it): every record (or, with --heartbeats, heartbeat) a receiver stored, or one JSON document
against a named schema."""
import json
import subprocess
from pathlib import Path

from .env import ROOT, python

SPEC = ROOT / "Sources" / "checkpoint-receiver" / "openapi.yaml"
VALIDATOR = ROOT / "Tests" / "system" / "lib" / "contract.py"


def contract(*args):
    """contract.py OPENAPI ARGS… (receiver databases, --heartbeats to check their heartbeats too, or
    --schema NAME FILE…): (whether it passed, its output)."""
    p = subprocess.run([python, str(VALIDATOR), str(SPEC), *[str(a) for a in args]], capture_output=True, text=True,
                       timeout=300)
    return p.returncode == 0, (p.stdout + p.stderr).strip()


def contract_document(work, name, doc, label):
    """One JSON document (what a receiver answered or kept: bytes, text or a parsed value), written to
    work/LABEL.json, against the contract's schema NAME: (whether it passed, the output)."""
    path = Path(work) / f"{label}.json"
    if isinstance(doc, bytes):
        doc = doc.decode()
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return contract("--schema", name, path)
