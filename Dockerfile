# syntax=docker/dockerfile:1
# Liaison's office daemon image (target "daemon", the default: the last stage) and the demo's
# image (target "demo"). Used by docker-compose.yml; see docs/operations.md, "Deployment with
# Docker Compose". No key, password or certificate is ever copied in: the only key material
# containers see arrives through volumes at run time (.dockerignore keeps keys/ out of the
# build context altogether).

# ---------------------------------------------------------------- the project's source
# What the package needs, and nothing else (no tests, no keys, no .git).
FROM python:3.12-slim AS source
WORKDIR /opt/liaison
COPY pyproject.toml README.md ./
COPY broker/ broker/
COPY adapters/ adapters/
# Public example messages that 'liaison demo' reads (docs/messages.md); not keys.
COPY docs/examples/ docs/examples/

# ---------------------------------------------------------------- build the virtualenv
FROM python:3.12-slim AS build
COPY --from=source /opt/liaison /opt/liaison
# Editable, as ./liaison does: the demo finds keys/example and docs/examples beside the
# package (/opt/liaison), where compose mounts keys/example at run time.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -e /opt/liaison

# ---------------------------------------------------------------- the demo (target "demo")
# 'liaison demo' creates its own vhost and users with rabbitmqctl, so it runs where a
# rabbitmqctl matching the broker is: the broker's own image (Ubuntu 24.04, Python 3.12).
FROM rabbitmq:3.13.7 AS demo
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -c 'import sys; assert sys.version_info >= (3, 11), sys.version'
COPY --from=source /opt/liaison /opt/liaison
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -e /opt/liaison
COPY deploy/compose/rabbitmqctl-remote /usr/local/bin/rabbitmqctl-remote
RUN groupadd --gid 10001 liaison \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/liaison liaison
USER 10001
WORKDIR /home/liaison
# HOME: Erlang's CLI wants a writable home for its own cookie file.
ENV PATH=/opt/venv/bin:$PATH HOME=/home/liaison PYTHONUNBUFFERED=1 \
    LIAISON_RABBITMQCTL=/usr/local/bin/rabbitmqctl-remote
ENTRYPOINT ["liaison"]
CMD ["demo", "--work", "/home/liaison/demo"]

# ---------------------------------------------------------------- the daemon (default target)
FROM python:3.12-slim AS daemon
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/liaison /opt/liaison
# A fixed non-root uid, so volumes written by the setup service (chown 10001) fit.
RUN groupadd --gid 10001 liaison \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/liaison liaison \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/liaison
USER 10001
WORKDIR /var/lib/liaison
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
ENTRYPOINT ["liaison"]
CMD ["daemon", "--config", "/etc/liaison/office.toml"]
# Healthy while the daemon runs, its status is fresh and its broker link is up (exit 20 if not).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["liaison", "status", "--health", "--config", "/etc/liaison/office.toml"]
