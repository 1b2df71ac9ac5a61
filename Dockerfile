# syntax=docker/dockerfile:1
# trainingportal: one image for web (gunicorn), Celery workers and beat (see docker-compose.yml).

# ---- build: compile wheels (psycopg2 needs pg_config and a compiler) ----
FROM python:3.12-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libpq-dev \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN pip wheel --wheel-dir /wheels -r /tmp/requirements.txt

# ---- runtime ----
FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=trainingportal.settings.production \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media

# libpq5: psycopg2 at run time. pango/harfbuzz/jpeg/fonts: WeasyPrint (libharfbuzz-subset0 for font subsetting).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpq5 libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 libjpeg62-turbo fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

COPY requirements.txt /tmp/requirements.txt
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels -r /tmp/requirements.txt

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app
COPY . /app

# Static files are collected at build time. The dummy SECRET_KEY / ALLOWED_HOSTS / SITE_URL / REDIS_URL exist only for
# this command (inline, not ENV; nothing connects to Redis) and never reach the running container, which must get real
# values from its environment.
RUN SECRET_KEY=build-time-collectstatic-only-not-a-real-secret-0123456789abcdef \
    ALLOWED_HOSTS=localhost SITE_URL=http://localhost REDIS_URL=redis://build.invalid:6379/0 \
    python manage.py collectstatic --noinput -v 0 \
 && mkdir -p /app/media \
 && chown app:app /app/media

USER app
EXPOSE 8000
CMD ["gunicorn", "trainingportal.wsgi:application", "-b", "0.0.0.0:8000", "-w", "3", "--access-logfile", "-"]
