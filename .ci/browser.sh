# Sourced by .ci/run: puts what tests/browser/ needs on this machine.
#   source .ci/browser.sh "$VENV/bin/python"
# - Debian's chromium at /usr/bin/chromium (Playwright cannot download its own browser here),
# - the playwright Python package into the given interpreter's environment,
# - axe-core from the npm registry into a cache; exports CONSENTGATE_AXE_JS=<path to axe.min.js>,
# - Bootstrap's CSS the same way (a real site stylesheet the banner must hold its look under);
#   exports CONSENTGATE_BOOTSTRAP_CSS=<path to bootstrap.min.css>.
# Idempotent; returns non-zero (and says why) when something cannot be installed.

cg_browser_setup() {
    local python="${1:-python3}"
    local axe_version="4.14.1"
    local bootstrap_version="5.3.8"
    local cache="${CONSENTGATE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/consentgate}"

    if [ ! -x /usr/bin/chromium ]; then
        echo "browser.sh: installing Debian chromium" >&2
        apt-get update -qq || { echo "browser.sh: apt-get update failed" >&2; return 1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
            || { echo "browser.sh: apt-get install chromium failed" >&2; return 1; }
    fi

    if ! "$python" -c "import playwright" 2>/dev/null; then
        "$python" -m pip install -q "playwright>=1.45" \
            || { echo "browser.sh: pip install playwright failed" >&2; return 1; }
    fi

    local axe="$cache/axe-core-$axe_version/node_modules/axe-core/axe.min.js"
    if [ ! -s "$axe" ]; then
        mkdir -p "$cache/axe-core-$axe_version"
        npm install --silent --no-audit --no-fund --no-save --no-package-lock \
            --prefix "$cache/axe-core-$axe_version" "axe-core@$axe_version" >/dev/null \
            || { echo "browser.sh: npm install axe-core failed" >&2; return 1; }
    fi
    export CONSENTGATE_AXE_JS="$axe"

    local bootstrap="$cache/bootstrap-$bootstrap_version/node_modules/bootstrap/dist/css/bootstrap.min.css"
    if [ ! -s "$bootstrap" ]; then
        mkdir -p "$cache/bootstrap-$bootstrap_version"
        npm install --silent --no-audit --no-fund --no-save --no-package-lock --ignore-scripts \
            --prefix "$cache/bootstrap-$bootstrap_version" "bootstrap@$bootstrap_version" >/dev/null \
            || { echo "browser.sh: npm install bootstrap failed" >&2; return 1; }
    fi
    export CONSENTGATE_BOOTSTRAP_CSS="$bootstrap"
    echo "browser.sh: chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), axe-core $axe_version, bootstrap $bootstrap_version" >&2
}

cg_browser_setup "$@"
