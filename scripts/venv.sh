# Sourced by ./liaison and ./run-tests: create .venv and install the project into it, once per
# change of pyproject.toml. Needs only python3 (>= 3.11) on PATH; LIAISON_PYTHON overrides it.
liaison_venv() {
    local extras="$1" root py stamp want
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    py="${LIAISON_PYTHON:-python3}"
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "liaison: needs Python 3.11 or newer as '$py' (set LIAISON_PYTHON to another)" >&2
        return 1
    fi
    if [ ! -x "$root/.venv/bin/python" ]; then
        echo "liaison: creating $root/.venv (first run only)" >&2
        "$py" -m venv "$root/.venv" || return 1
    fi
    want="$(cat "$root/pyproject.toml" | sha256sum | cut -c1-16)-$extras"
    stamp="$root/.venv/.liaison-installed"
    if ! grep -qx -- "$want" "$stamp" 2>/dev/null; then
        echo "liaison: installing the project and its dependencies into .venv ($extras)" >&2
        "$root/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            -e "$root[$extras]" || return 1
        echo "$want" >"$stamp"
    fi
}
