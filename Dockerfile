# hj1321 service image. Migrations are a separate step: `docker run IMAGE hj1321 migrate`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HJ1321_DATA_DIR=/tmp/hj1321

WORKDIR /app

# Dependencies first, so source edits do not reinstall them.
COPY pyproject.toml README.md LICENSE ./
RUN mkdir service && touch service/__init__.py \
    && pip install . \
    && pip uninstall -y hj1321 \
    && rm -rf service

COPY service ./service
COPY schemas ./schemas
COPY migrations ./migrations
COPY alembic.ini ./
RUN pip install --no-deps -e . \
    && useradd --system --uid 10001 --home-dir /app hj1321

USER hj1321
EXPOSE 8000

# In a container the database is external: DATABASE_URL must be set.
CMD ["hj1321", "serve", "--host", "0.0.0.0", "--port", "8000"]
