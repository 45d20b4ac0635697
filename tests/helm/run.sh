#!/usr/bin/env bash
# Offline tests of the helm/omendb chart: no cluster, no helm binary, no Docker.
# Installs its Python tools when missing, then runs pytest on tests/helm. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3}"
# Write nothing into the repository: no bytecode, no pytest cache (-p no:cacheprovider below).
export PYTHONDONTWRITEBYTECODE=1

pip_install() {
    "$PYTHON" -m pip install -q "$@" || "$PYTHON" -m pip install -q --break-system-packages "$@"
}

missing=()
"$PYTHON" -c 'import helm_python' 2>/dev/null || missing+=('helm-python-sdk>=0.2.2,<0.3')
"$PYTHON" -c 'import kubernetes_validate' 2>/dev/null || missing+=('kubernetes-validate>=1.33')
"$PYTHON" -c 'import pytest' 2>/dev/null || missing+=(pytest)
"$PYTHON" -c 'import yaml' 2>/dev/null || missing+=(PyYAML)
if ((${#missing[@]})); then
    echo "tests/helm: installing ${missing[*]}" >&2
    pip_install "${missing[@]}"
fi

# -p no:cacheprovider: write nothing into the repository.
exec "$PYTHON" -m pytest tests/helm -q -p no:cacheprovider -rs "$@"
