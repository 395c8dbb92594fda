# hj1321 service image. Migrations are a separate step: `docker run IMAGE hj1321 migrate`.
# Built from the wheel, as a bureau installs it; the database is external (DATABASE_URL), so the
# embedded server is not installed.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY service ./service
COPY schemas ./schemas
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HJ1321_DATA_DIR=/tmp/hj1321 \
    HJ1321_PHOTO_STORE=file:///data/photos

COPY --from=build /dist /dist
RUN pip install /dist/*.whl \
    && rm -rf /dist \
    && useradd --system --uid 10001 --home-dir /tmp/hj1321 hj1321 \
    && mkdir -p /data/photos && chown -R hj1321 /data

# Photo bytes: mount a volume here (or a share every replica mounts); the database holds only their metadata.
VOLUME /data

USER hj1321
WORKDIR /tmp
EXPOSE 8000

# The slim image has no curl: Python asks /healthz (the process answers; /readyz would also need the database).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

# In a container the database is external: DATABASE_URL must be set.
CMD ["hj1321", "serve", "--host", "0.0.0.0", "--port", "8000"]
