"""The host-side system-test harness (pytest), and the one launch code of the demo pipeline: the built binaries, a
work directory, and the pipeline's parts started the way the demo starts them — the receiver over HTTPS with a
throwaway CA, the GY-MCU90640 simulator on a pseudo-terminal, the daemon on a config made from
systemd/checkpointd.demo.toml, a NOTIFY_SOCKET to wait on.

The files (photos, replay frames, TLS material, calibration, config, model) are made in harness/demo_assets.py;
Stack (harness/stack.py) starts the processes; the receiver, in every form a test needs (the stack's HTTPS, a port
it picks, its own TLS, the test stand, PostgreSQL), is harness/receiver.py's Receiver (Stack.receiver()), and
harness/contract.py checks what it answered or kept against openapi.yaml. Tests/demo/demo.py, Tests/soak/soak.py
and the daemon benchmark use the same Stack, so the demo, the soak, the benchmark and the tests build the stack the
same way.
"""
from .env import BIN, ROOT, SHARED, MODEL_NAME, binary, free_port, python  # noqa: F401
from .proc import run, Proc  # noqa: F401
from .stack import Stack, Daemon, Simulator, NotifySocket  # noqa: F401
from .receiver import Receiver  # noqa: F401
from .contract import contract, contract_document  # noqa: F401
from .http import api, http_get, Response  # noqa: F401
from .wait import wait_until  # noqa: F401
from . import demo_assets  # noqa: F401
