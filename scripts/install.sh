#!/usr/bin/env bash
# Create the virtual environment and install the project with its test tools.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
extras=${3:-test}

if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c "import ensurepip" 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing python3-venv" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "Python's venv module is missing: install python3-venv" >&2
    exit 1
  fi
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
if [ -n "$extras" ]; then
  "$venv/bin/python" -m pip install -q -e ".[$extras]"
else
  "$venv/bin/python" -m pip install -q -e .
fi
touch "$venv/bin/smtp-profile"
