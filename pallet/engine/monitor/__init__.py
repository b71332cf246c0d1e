"""The per-container monitor (conmon's role). See monitor.py; it imports only the stdlib."""

import os

MONITOR_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "monitor.py")
