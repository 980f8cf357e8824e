"""WSGI entry point for bench runs with BENCH_WHATIF variants (see bench/whatif.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
application = get_wsgi_application()

from bench import whatif  # noqa: E402  (after Django is set up: the variants patch api/ modules)

whatif.apply()
