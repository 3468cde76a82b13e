"""The optimiser's child processes import the engine only: spawning one must not load the web stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from services.merchandising.fleet import SOLVE_FUNCTION
from services.merchandising.stream import COMPUTE_FUNCTION, FIT_FUNCTION
from services.merchandising.warmup import CHILD_READY_FUNCTION

ROOT = Path(__file__).resolve().parents[2]
WEB_STACK = {"flask", "sqlalchemy", "flask_sqlalchemy", "models", "extensions", "blueprints", "app"}
CHILD = """
import json, sys
from services.jobs import resolve
from services.processes import _serve  # what a spawned child runs
for path in sys.argv[1:]:
    resolve(path)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_the_child_functions_load_no_flask_sqlalchemy_or_app_code() -> None:
    paths = [COMPUTE_FUNCTION, FIT_FUNCTION, SOLVE_FUNCTION, CHILD_READY_FUNCTION]
    assert {p.rpartition(".")[0] for p in paths} == {"services.merchandising.compute"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *paths], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert "services" in loaded and not loaded & WEB_STACK, sorted(loaded & WEB_STACK)


BLAS = """
import json, sys
from threadpoolctl import threadpool_info
from app import create_app
from config import TestConfig
create_app(TestConfig(SQLALCHEMY_DATABASE_URI="sqlite://", INSTANCE_PATH=sys.argv[1]))
import scipy.linalg  # scipy's own OpenBLAS, loaded after the app (as inside an RQ job)
print(json.dumps([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]))
"""


def test_every_blas_of_an_app_process_runs_one_thread(tmp_path: Path) -> None:
    """A spare BLAS thread busy-waits: in an RQ work horse it added half a core to every device's CPU."""
    done = subprocess.run(
        [sys.executable, "-c", BLAS, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    threads = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(threads) >= 2 and set(threads) == {1}  # numpy's and scipy's OpenBLAS
