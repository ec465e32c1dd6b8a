"""WSGI entry point: ``gunicorn wsgi:app``."""

import gc

from marketplace import create_app

app = create_app()

# What importing and building the app made (modules, mappers, schemas, about 340,000 objects
# the collector tracks) lives as long as the process. Frozen, it is left out of the cyclic
# garbage collector's full passes, which otherwise walk all of it about once per thousand
# requests (some 200 ms of one worker's CPU each time).
gc.collect()
gc.freeze()
