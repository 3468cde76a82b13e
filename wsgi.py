"""WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

import os
import sys

# The `flask` command also finds this file when FLASK_APP is unset (the Makefile sets app:create_app): a CLI
# command is no server, so it neither patches for gevent nor starts the model warm-up (which would race a
# `flask db upgrade` on a fresh database).
SERVING = os.environ.get("FLASK_RUN_FROM_CLI") != "true"

if SERVING and "gunicorn" not in sys.modules:  # gunicorn's gevent worker patches after fork; elsewhere patch first
    from gevent import monkey

    monkey.patch_all()

from app import create_app  # noqa: E402 (after the gevent patch)
from services.merchandising import warmup as model_warmup  # noqa: E402

app = create_app()
if SERVING:
    model_warmup.on_start(app)  # fit the device models in the background before the first Optimise
