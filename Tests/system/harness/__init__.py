"""The host-side system-test harness (pytest): the built binaries, a work directory, and the demo pipeline's parts
started the way the demo starts them — the receiver over HTTPS with a throwaway CA, the GY-MCU90640 simulator on a
pseudo-terminal, the daemon on a config made from systemd/checkpointd.demo.toml, a NOTIFY_SOCKET to wait on.

The files (TLS material, calibration, config, model) come from the demo's own launch code, Tests/demo/lib.sh,
called function by function (`demo_sh`), so the demo and the tests build the stack the same way.
"""
from .env import BIN, ROOT, SHARED, MODEL_NAME, binary, free_port, python  # noqa: F401
from .proc import run, Proc  # noqa: F401
from .stack import Stack, Daemon, Receiver, Simulator, NotifySocket, demo_sh  # noqa: F401
from .http import api, http_get, Response  # noqa: F401
from .wait import wait_until  # noqa: F401
