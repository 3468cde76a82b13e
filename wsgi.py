"""WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

import sys

if "gunicorn" not in sys.modules:  # gunicorn's gevent worker patches after fork; elsewhere patch first
    from gevent import monkey

    monkey.patch_all()

from app import create_app
from services import model_warmup

app = create_app()
model_warmup.on_start(app)  # fit the device models in the background before the first Optimise
