#!/usr/bin/env bash
# Install the system Chromium that the browser tests (tests/browser/) drive with Playwright.
#
# Idempotent: does nothing when /usr/bin/chromium (or $MLKIT_CHROMIUM) is already there.
# Installs Debian's `chromium` and `chromium-driver` with apt-get, as root or through sudo.
# Never downloads a Playwright browser (`playwright install` is not used).
# When it cannot install (not root and no sudo, no apt-get, apt fails) it says why and exits 0:
# the browser tests then skip with a clear reason instead of failing the whole test run.
set -u

CHROMIUM="${MLKIT_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "install_browser: $CHROMIUM is present; nothing to do."
    exit 0
fi

skip() {
    echo "install_browser: $*" >&2
    echo "install_browser: Chromium not installed; the browser tests (tests/browser/) will be skipped." >&2
    echo "install_browser: to run them, install it yourself: sudo apt-get install -y chromium chromium-driver" >&2
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
echo "install_browser: installing chromium and chromium-driver with apt-get ..."
if ! $SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-liberation; then
    # The package lists may be missing or stale (fresh container): refresh once and retry.
    $SUDO apt-get update -q || skip "apt-get update failed."
    $SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-liberation \
        || skip "apt-get install chromium chromium-driver failed."
fi

if [ -x "$CHROMIUM" ]; then
    echo "install_browser: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")."
else
    skip "apt-get finished but $CHROMIUM is still missing."
fi
