# syntax=docker/dockerfile:1
#
# hbbacktest's HTTP API (`hbbacktest serve`) in a container.
#
#   docker build -t hbbacktest .                                # needs BuildKit (the default since Docker 23)
#   docker build --build-arg EXTRAS=ray -t hbbacktest:ray .    # with Ray, for `sweep run --backend ray`
#   docker run --init -p 8000:8000 -v hbbacktest-data:/data \
#       -e HBBACKTEST_API_USERNAME=me -e HBBACKTEST_API_PASSWORD='a long secret' hbbacktest
#
# CREDENTIALS ARE REQUIRED AT RUN TIME. The server binds 0.0.0.0 inside the container (it must, to
# be reachable through a published port), and `hbbacktest serve` refuses a non-loopback address
# without HBBACKTEST_API_USERNAME / HBBACKTEST_API_PASSWORD, or with admin/admin. They are
# deliberately not set here: ENV values are baked into the image and shown by `docker inspect`.
# docker-compose.yml passes them from .env and refuses to start without them.
#
# Two stages: `builder` turns the project and every dependency into wheels; the runtime stage
# installs those wheels with the network off (--no-index), so both stages resolve the very same
# versions and the runtime has no build tools, no source tree and no pip cache.
#
# Every dependency ships binary wheels for CPython 3.11 on linux x86_64 and aarch64 (numba/llvmlite,
# the `ta-lib` wheel with TA-Lib's C library inside, pyarrow, psycopg[binary], orjson, uvloop …),
# so the builder needs no compiler. If a dependency ever falls back to an sdist that needs one,
# `pip wheel` fails in the builder: add `apt-get install build-essential` there, not in the runtime.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# Optional extras, comma-separated (e.g. "ray"); empty installs the plain package.
ARG EXTRAS=""

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /build
# The build context is an allowlist (.dockerignore): pyproject.toml, README.md (the package's
# `readme`, read by the build), LICENSE* if any, and src/ without caches or egg-info.
COPY . .

# `pip wheel` builds hbbacktest's wheel (setuptools in an isolated build env, as pyproject.toml
# asks) and collects a wheel of every dependency into /wheels. The cache mount keeps downloads
# across builds without putting them in a layer. "${EXTRAS:+[$EXTRAS]}" expands to "[ray]" or to
# nothing (sh parameter expansion), so an empty EXTRAS never produces ".[]".
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --wheel-dir /wheels ".${EXTRAS:+[$EXTRAS]}"

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG EXTRAS=""
# Numeric ids of the unprivileged user. A bind-mounted /data (or ./configs) must be writable by
# this uid: either chown the host directory to it, or build with your own:
#   docker build --build-arg HBB_UID=$(id -u) --build-arg HBB_GID=$(id -g) -t hbbacktest .
ARG HBB_UID=10001
ARG HBB_GID=10001

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

# The user, its home (some libraries write under ~/.cache) and /data, owned by it. /data must be
# prepared *before* the VOLUME instruction below: a new named volume is initialised with the
# image's /data, ownership included, so it starts writable by the non-root user.
RUN groupadd --system --gid "${HBB_GID}" hbbacktest \
 && useradd --system --uid "${HBB_UID}" --gid hbbacktest \
        --home-dir /home/hbbacktest --create-home --shell /usr/sbin/nologin hbbacktest \
 && mkdir -p /data/.numba-cache \
 && chown -R "${HBB_UID}:${HBB_GID}" /data

# Install from the builder's wheels only. The bind mount reads them without copying them into a
# layer (COPY --from + rm would leave ~500 MB in the image history). Installed as root into
# /usr/local: the code is read-only for the user that runs it; pip byte-compiles at install.
# DL3013 (pin versions): the versions are pinned by what the builder resolved; --no-index
# cannot pick anything else.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels "hbbacktest${EXTRAS:+[$EXTRAS]}" \
 && hbbacktest --version

# HBBACKTEST_DATA_DIR: candle cache (/data/candles), the default SQLite results db
# (/data/hbbacktest.db, used when HBBACKTEST_DATABASE_URL is unset), saved configs
# (/data/configs unless HBBACKTEST_CONFIGS_DIR says otherwise).
#
# NUMBA_CACHE_DIR: the kernels are @njit(cache=True). By default numba writes its cache beside
# the source, in site-packages, which the non-root user cannot write; pointing it into the volume
# also keeps the compiled kernels across container re-creation (the first run compiles for ≈10 s).
# Entries are keyed by source file, its timestamp and the CPU, so a new image or another host
# recompiles instead of loading a stale kernel. Nothing in hbbacktest reads /data/.numba-cache
# (the candle store reads /data/candles/*/*.parquet only).
ENV HBBACKTEST_DATA_DIR=/data \
    NUMBA_CACHE_DIR=/data/.numba-cache

VOLUME ["/data"]
# Relative paths given to the CLI inside the container (`-o out/x.json`, `docker compose exec`)
# land in the volume too.
WORKDIR /data

# Numeric, so orchestrators that check runAsNonRoot can verify it without /etc/passwd.
USER ${HBB_UID}:${HBB_GID}

EXPOSE 8000

# The slim image has no curl or wget: ask with Python's standard library. An empty ProxyHandler
# ignores HTTP(S)_PROXY, which would otherwise route 127.0.0.1 through a proxy; urlopen raises on
# any non-2xx status or connection error, so the exit code is 1 unless /health answered 2xx.
# Port 8000 is fixed here: if you change --port in CMD, override the healthcheck too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:8000/health', timeout=4).close()"]

# `--workers N` (backtest worker processes) defaults to the CPU count that os.cpu_count() sees,
# which in a container is the host's: pass it explicitly when the container's CPUs are limited.
# No ENTRYPOINT, so `docker run … hbbacktest hbbacktest data list` (or any CLI command) works.
# uvicorn does not reap orphaned children: run with `--init` (compose: `init: true`) so that
# backtest worker processes never linger as zombies under PID 1.
CMD ["hbbacktest", "serve", "--host", "0.0.0.0", "--port", "8000"]
