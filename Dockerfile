# Crosspost's image: one image, several roles chosen by the command
# (`crosspost worker`, `crosspost beat`, `crosspost migrate`, `crosspost run`).
# See docker-compose.yml for the distributed deployment.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs to build (tests, harnesses and scripts stay out,
# see .dockerignore).  README.m[d]: the readme pyproject.toml names, copied when
# it exists without failing the build when it does not.
WORKDIR /src
COPY pyproject.toml README.m[d] ./
COPY worker ./worker
# All dependencies ship wheels for linux/amd64 and arm64 (psycopg[binary],
# regex, pydantic-core), so no compiler is needed in the image.
RUN pip install . && rm -rf /src

# Never run as root.  The home directory is the working directory because it
# is writable: `crosspost run` without DATABASE_URL keeps ./crosspost.db there
# (beat keeps its schedule file in /tmp, see worker/celery_app.py).
RUN useradd --create-home --uid 10001 --user-group crosspost
USER crosspost
WORKDIR /home/crosspost

ENTRYPOINT ["crosspost"]
# Without a command: the single-process mode (poll + publish in one process).
CMD ["run"]
