#!/usr/bin/env bash
# The system tools the tests need: Chromium (the browser tests) and Prometheus (lesson 05).
# The logic lives in scripts/install_system.sh; this name stays for the tests and CI that call it.
exec bash "$(dirname "$0")/install_system.sh" chromium prometheus
