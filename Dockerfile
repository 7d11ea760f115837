# banscan's fleet server (`banscan serve`) in a container. Build from the repository root:
#   docker build -t banscan .
# compose.yaml runs it with PostgreSQL; README.md, "Run the server in a container", has the steps.
#
# Stage 1 builds banscan and its dependencies into a virtual environment (with a compiler, for
# any dependency that has no wheel for this platform); stage 2 copies that environment alone
# onto a fresh slim image and runs it as an unprivileged user. No dev or test extras.

ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/banscan
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN /opt/banscan/bin/pip install --upgrade pip \
    && /opt/banscan/bin/pip install . \
    && /opt/banscan/bin/banscan --version

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/banscan/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 banscan \
    && useradd --system --uid 10001 --gid banscan --home-dir /var/lib/banscan --create-home \
       --shell /usr/sbin/nologin banscan
COPY --from=build /opt/banscan /opt/banscan
USER banscan
WORKDIR /var/lib/banscan
# The SQLite database of a plain `docker run` lives here; with compose.yaml it is PostgreSQL.
VOLUME ["/var/lib/banscan"]
EXPOSE 8080
# /healthz answers without logging in; plain HTTP first, then HTTPS (--ssl-certfile) on the same port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import ssl, sys, urllib.request as u\nfor s in ('http', 'https'):\n    try:\n        u.urlopen(s + '://127.0.0.1:8080/healthz', timeout=3, context=ssl._create_unverified_context() if s == 'https' else None)\n        sys.exit(0)\n    except Exception:\n        pass\nsys.exit(1)"]
# `docker run IMAGE` serves; `docker run IMAGE user add alice --role admin ...` runs any other
# banscan command. The server migrates its database at start; there is no default user.
ENTRYPOINT ["banscan"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--db", "sqlite:////var/lib/banscan/banscan.db"]
