#!/usr/bin/env bash
# Install the system tools of the course with apt-get (Debian/Ubuntu, as root or through sudo):
#
#   bash scripts/install_system.sh prometheus            # Prometheus, Alertmanager, promtool: lesson 05's real tools
#   bash scripts/install_system.sh chromium prometheus   # and Chromium, which the browser tests drive (make test)
#
# Idempotent: installs only what is missing (/usr/bin/chromium or $MLKIT_CHROMIUM; prometheus and
# promtool on PATH). Never downloads a Playwright browser (`playwright install` is not used).
# When it cannot install (not root and no password-less sudo, no apt-get, apt fails) it says what
# is missing, what that means for the course, and the command to run yourself, then exits 0, so
# that `make all` still runs every lesson (lesson 05 then computes its numbers in Python) and the
# tests that need a missing tool skip with a clear reason.
set -u

CHROMIUM="${MLKIT_CHROMIUM:-/usr/bin/chromium}"
[ "$#" -gt 0 ] || set -- chromium prometheus

PACKAGES=""
CONSEQUENCES=""
for tool in "$@"; do
    case "$tool" in
        chromium)
            [ -x "$CHROMIUM" ] || {
                PACKAGES="$PACKAGES chromium chromium-driver fonts-liberation"
                CONSEQUENCES="$CONSEQUENCES the browser tests are skipped;"
            } ;;
        prometheus)
            command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || {
                PACKAGES="$PACKAGES prometheus prometheus-alertmanager"
                CONSEQUENCES="$CONSEQUENCES lesson 05 computes its Prometheus numbers in Python instead of querying a real Prometheus;"
            } ;;
        *) echo "install_system: unknown tool '$tool' (chromium or prometheus)" >&2; exit 2 ;;
    esac
done
if [ -z "$PACKAGES" ]; then
    echo "install_system: $* already installed; nothing to do."
    exit 0
fi

skip() {
    echo "install_system: $*" >&2
    echo "install_system: NOT INSTALLED:$PACKAGES. So:$CONSEQUENCES everything else works." >&2
    echo "install_system: to install them yourself: sudo apt-get install -y$PACKAGES" >&2
    exit 0
}

command -v apt-get >/dev/null 2>&1 || skip "apt-get not found (not a Debian/Ubuntu system)."

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    skip "not root and no password-less sudo: cannot run apt-get."
fi

export DEBIAN_FRONTEND=noninteractive
echo "install_system: installing$PACKAGES with apt-get ..."
# shellcheck disable=SC2086 # the package list is meant to split into words
if ! $SUDO apt-get install -y --no-install-recommends $PACKAGES; then
    # The package lists may be missing or stale (fresh container): refresh once and retry.
    $SUDO apt-get update -q || skip "apt-get update failed."
    $SUDO apt-get install -y --no-install-recommends $PACKAGES || skip "apt-get install$PACKAGES failed."
fi
for tool in "$@"; do
    case "$tool" in
        chromium) [ -x "$CHROMIUM" ] || skip "apt-get finished but $CHROMIUM is still missing."
                  echo "install_system: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")." ;;
        prometheus) command -v prometheus >/dev/null 2>&1 || skip "apt-get finished but prometheus is still missing."
                    echo "install_system: installed $(prometheus --version 2>&1 | head -n 1)." ;;
    esac
done
