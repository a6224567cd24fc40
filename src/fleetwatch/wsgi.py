"""WSGI entry point (``gunicorn fleetwatch.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
application = get_wsgi_application()
