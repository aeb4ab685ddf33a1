# The image for `lienthong web` and `lienthong worker` in docker-compose.yml.
FROM python:3.11-slim-bookworm
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libreoffice-writer-nogui python3-uno fonts-noto-core fonts-liberation2 poppler-utils qpdf \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services services
COPY workflows workflows
COPY signing signing
COPY meetings meetings
COPY dashboard dashboard
COPY demo demo
COPY web web
RUN pip install --no-cache-dir .
ENV LIENTHONG_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
CMD ["lienthong", "web", "--host", "0.0.0.0", "--port", "8000"]
