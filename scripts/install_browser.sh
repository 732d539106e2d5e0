#!/usr/bin/env bash
# Install the system tools the tests need: Chromium, which the browser tests (tests/browser/)
# drive with Playwright, and Prometheus with Alertmanager and promtool, which lesson 05 runs.
#
# Idempotent: does nothing when they are already there (/usr/bin/chromium or $MLKIT_CHROMIUM,
# prometheus). Installs Debian's `chromium`, `chromium-driver`, `prometheus` and
# `prometheus-alertmanager` with apt-get, as root or through sudo.
# Never downloads a Playwright browser (`playwright install` is not used).
# When it cannot install (not root and no sudo, no apt-get, apt fails) it says why and exits 0:
# the browser tests then skip with a clear reason instead of failing the whole test run.
set -u

CHROMIUM="${MLKIT_CHROMIUM:-/usr/bin/chromium}"

PACKAGES=""
[ -x "$CHROMIUM" ] || PACKAGES="chromium chromium-driver fonts-liberation"
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 \
    || PACKAGES="$PACKAGES prometheus prometheus-alertmanager"
if [ -z "$PACKAGES" ]; then
    echo "install_browser: Chromium and Prometheus are present; nothing to do."
    exit 0
fi

skip() {
    echo "install_browser: $*" >&2
    echo "install_browser: not installed: $PACKAGES; the tests that need them are skipped (lesson 05 computes its Prometheus numbers in Python)." >&2
    echo "install_browser: to run them, install them yourself: sudo apt-get install -y $PACKAGES" >&2
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
echo "install_browser: installing$( printf ' %s' $PACKAGES ) with apt-get ..."
# shellcheck disable=SC2086 # the package list is meant to split into words
if ! $SUDO apt-get install -y --no-install-recommends $PACKAGES; then
    # The package lists may be missing or stale (fresh container): refresh once and retry.
    $SUDO apt-get update -q || skip "apt-get update failed."
    $SUDO apt-get install -y --no-install-recommends $PACKAGES || skip "apt-get install$( printf ' %s' $PACKAGES ) failed."
fi
command -v prometheus >/dev/null 2>&1 || skip "apt-get finished but prometheus is still missing."

if [ -x "$CHROMIUM" ]; then
    echo "install_browser: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")."
else
    skip "apt-get finished but $CHROMIUM is still missing."
fi
