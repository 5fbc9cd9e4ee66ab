"""The sample titles of ``make run`` (the web app itself is ``web/app``, served by the web
service, ``matinee.services.web``)."""
