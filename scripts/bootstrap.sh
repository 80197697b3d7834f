#!/usr/bin/env bash
# Sets up what docmill needs on a Debian machine: Tesseract (with English),
# Python 3.11+ with venv, and a virtual environment holding docmill, the
# offline default model and, with --test, the test tools (and strace, Chromium, Apache and Dovecot). Idempotent.
#
#   scripts/bootstrap.sh [--test] [VENV]      (default VENV: .venv)
set -euo pipefail
extras="model"
if [ "${1:-}" = "--test" ]; then extras="model,test"; shift; fi
venv=${1:-.venv}
cd "$(dirname "$0")/.."

missing=()
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)
if ! tesseract --list-langs 2>/dev/null | grep -qx eng; then missing+=(tesseract-ocr-eng); fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# The tests watch what docmill tries on the network at the system-call level (tests/test_privacy.py), and
# load the API's status page in a headless browser (tests/api/test_status_page.py), and sync IMAP mailboxes
# from a Dovecot of their own (tests/plugins/test_imap_source.py; its system service is not needed).
if [ "$extras" = "model,test" ]; then
    command -v strace >/dev/null 2>&1 || missing+=(strace)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    # The WebDAV source's tests start a real Apache with mod_dav_fs (tests/plugins/test_webdav.py); the binary
    # package alone: it holds the modules and starts no system service.
    [ -x /usr/sbin/apache2 ] || command -v apache2 >/dev/null 2>&1 || missing+=(apache2-bin)
    [ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
fi
if ((${#missing[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "docmill needs these Debian packages: ${missing[*]}" >&2
        echo "install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "installing ${missing[*]} with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "docmill needs Python 3.11 or newer" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
echo "installing docmill[$extras] into $venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
# An environment made by an older docmill holds the full pymupdf (with pymupdf.layout and onnxruntime's
# telemetry): it and pymupdf-lite share the module's files, so remove it and put pymupdf-lite's back.
if "$venv/bin/python" -m pip show --quiet pymupdf >/dev/null 2>&1; then
    echo "replacing pymupdf with pymupdf-lite in $venv" >&2
    "$venv/bin/python" -m pip uninstall --quiet --disable-pip-version-check -y pymupdf pymupdf-layout pymupdf4llm
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps pymupdf-lite
fi
