#!/usr/bin/env bash
# Chromium, its driver and CJK fonts (Debian packages) for the browser tests in tests/e2e/web and for
# screenshots (without fonts-noto-cjk Chinese renders as boxes), and poppler-utils (pdftoppm) with poppler-data
# for the tests that render PDFs to images. Installs only what is missing, so it is
# quick when all is there. Needs root (apt-get); when not root it says what to run.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
# poppler-data: the CMaps without which poppler draws no Chinese of a PDF's CID fonts ("Missing language pack
# for 'Adobe-GB1'"); only recommended by poppler-utils, so --no-install-recommends leaves it out
if command -v dpkg-query >/dev/null; then
    for package in fonts-noto-cjk poppler-data; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
else
    fc-list :lang=zh 2>/dev/null | grep -qi "noto" || missing+=(fonts-noto-cjk)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/browser.sh: the browser tests need: ${missing[*]}" >&2
    echo "  Not root, so not installing. Run:  sudo apt-get install -y ${missing[*]}" >&2
    echo "  (or run scripts/browser.sh as root), then run the tests again." >&2
    exit 1
fi
echo "== apt-get install ${missing[*]} ==" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -qq && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
