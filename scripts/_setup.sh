# Shared by scripts/demo and scripts/test: make .venv and install multilogue into it.
# Usage: source scripts/_setup.sh EXTRA   (EXTRA is "demo" or "dev", see pyproject.toml)
set -euo pipefail

extra="$1"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "multilogue needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    echo "Creating the virtual environment in .venv ..."
    "$python" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install of this extra.
stamp=".venv/.installed-$extra"
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "Installing multilogue and its dependencies ($extra) ..."
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[$extra]"
    echo "$wanted" > "$stamp"
fi
