# Shared set-up for scripts/serve and scripts/test: a virtual environment with the
# project installed, and compiled translations. Safe to run again; it skips what is done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

as_root() {
    if [ "$(id -u)" = "0" ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        echo "Necesito permisos de administrador para: $*" >&2; return 1; fi
}

apt_install() {
    echo "Instalando paquetes de Debian: $*"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_python() {
    if ! command -v "$PY" >/dev/null 2>&1; then apt_install python3 python3-venv; fi
    if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
        echo "Se necesita Python 3.11 o más nuevo (hay $("$PY" --version))." >&2
        exit 1
    fi
    if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        apt_install python3-venv
    fi
}

ensure_venv() {
    local extras="$1"
    ensure_python
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$extras"
    local digest
    digest="$(cat pyproject.toml | sha256sum | cut -c1-16)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
        echo "Instalando dependencias de Python ($extras)..."
        "$VENV/bin/python" -m pip install -q --upgrade pip
        if [ "$extras" = "app" ]; then
            "$VENV/bin/python" -m pip install -q -e .
        else
            "$VENV/bin/python" -m pip install -q -e ".[$extras]"
        fi
        echo "$digest" > "$stamp"
    fi
}

compile_translations() {
    "$VENV/bin/pybabel" compile -q -d marketplace/translations --use-fuzzy 2>/dev/null \
        || "$VENV/bin/pybabel" compile -d marketplace/translations
}
