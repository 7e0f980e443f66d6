"""Where things are: BIN (built binaries, required), SHARED (read-only fixtures, optional), ROOT (this clone)."""
import os
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ["BIN"]).resolve() if os.environ.get("BIN") else None
SHARED = Path(os.environ.get("SHARED") or ROOT.parent / "shared")
MODEL_NAME = "face_detection_yunet_2022mar.onnx"
python = "/usr/bin/python3"


def binary(name):
    """The path of a built binary in BIN (checkpointd, checkpointctl, checkpoint-receiver)."""
    if BIN is None:
        raise RuntimeError("BIN must point at the built binaries (e.g. BIN=$PWD/.build/debug)")
    return str(BIN / name)


def free_port():
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
