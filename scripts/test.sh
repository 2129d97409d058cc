#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs what it needs on a fresh Debian machine:
# Python dependencies in .venv and, as root, the Debian packages of the real-server tests
# (Postfix, Dovecot, PostgreSQL, Chromium). Options:
#   --fast        lint, types and the tests that need no system packages
#   --check-only  lint and types only
#   any other arguments are passed to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
pytest_args=()
for arg in "$@"; do
  case "$arg" in
    --fast) mode=fast ;;
    --check-only) mode=check ;;
    *) pytest_args+=("$arg") ;;
  esac
done

started=$(date +%s)
extras=test
if [ "$mode" = full ]; then
  # System packages first: the Kerberos extra compiles against libkrb5-dev.
  echo "== system packages for the real-server tests"
  for script in tests/*/install-debian-packages.sh; do
    [ -f "$script" ] && bash "$script"
  done
  extras=test,kerberos
fi
scripts/install.sh "${PYTHON:-python3}" .venv "$extras"
bin=.venv/bin

echo "== lint and types"
"$bin/ruff" check src tests bench
"$bin/ruff" format --check src tests bench
"$bin/mypy" src/smtp_profile
[ "$mode" = check ] && exit 0

markers=()
if [ "$mode" != full ]; then
  markers=(-m "not relay and not postgres and not browser")
fi

echo "== tests"
mkdir -p artifacts
set +e
"$bin/python" -m pytest "${markers[@]}" -p no:cacheprovider "${pytest_args[@]}"
status=$?
set -e
# Exit code 5 means "no tests collected": fine for a narrowed selection (markers or
# arguments), a failure for the whole suite (CI would otherwise pass having run nothing).
if [ "$status" = 5 ] && { [ "$mode" = fast ] || [ "${#pytest_args[@]}" -gt 0 ]; }; then
  echo "no tests were collected for this selection"
  status=0
fi
echo "== done in $(( $(date +%s) - started )) s (pytest exit code $status)"
exit "$status"
