"""Settings every test shares."""

from __future__ import annotations

import os
from pathlib import Path

# Kernels that papermill starts run in notebooks/, so a relative PYTHONPATH (such as "lib") would no
# longer find labkit there. An installed labkit (make venv) doesn't need this; a checkout run does.
if os.environ.get("PYTHONPATH"):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        str(Path(p).resolve()) for p in os.environ["PYTHONPATH"].split(os.pathsep) if p
    )
