#!/usr/bin/env bash
# build-all.sh: builds (or finds cached) the three test-bench images and prints one
# `<image name>=<archive path>` line per image on stdout. Import each archive with
#   ctr -n k8s.io images import <archive path>
# POSTGRES_MAJOR overrides versions.json "postgres" (Debian ships 17 in trixie, 15 in bookworm).
source "$(dirname "$0")/lib.sh"

pg_major=${POSTGRES_MAJOR:-$(pin postgres)}
mlflow=$("$IMAGES_DIR/mlflow.sh")
postgres=$(POSTGRES_MAJOR=$pg_major "$IMAGES_DIR/postgres.sh")
seaweedfs=$("$IMAGES_DIR/seaweedfs.sh")
echo "ghcr.io/mlflow/mlflow:v$(pin mlflow)-full=$mlflow"
echo "docker.io/library/postgres:$pg_major=$postgres"
echo "localhost/seaweedfs:$(pin seaweedfs)=$seaweedfs"
