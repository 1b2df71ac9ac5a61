"""Celery tasks for the case log: ids in, call a service."""
