#!/usr/bin/env bash
# Lighthouse's mobile audit (its default phone and slow 4G, simulated; see below for the CPU) of six
# pages, served as scripts/serve serves them: gunicorn, the app compressing its responses, demo
# data in a throw-away SQLite database. Prints a table: performance, accessibility, best
# practices, SEO. Goals: performance >= 98, accessibility 100, best practices 100, SEO >= 95.
#
#   benchmarks/lighthouse.sh            # the table
#   benchmarks/lighthouse.sh --details  # and every audit that did not pass, page by page
#
# Lighthouse comes from npm into benchmarks/.lighthouse/ (not committed; LIGHTHOUSE_DIR to
# put it elsewhere), run by Node with Debian's chromium (CHROME_PATH). The JSON reports stay
# in benchmarks/.lighthouse/reports/. Nothing here is part of the test suite.
source "$(dirname "$0")/../scripts/_common.sh"

DETAILS=""
[ "${1:-}" = "--details" ] && DETAILS="--details"

LIGHTHOUSE_VERSION="12"   # Lighthouse 13 needs Node 22; 12 runs on Debian's Node 18 and later.
LH_DIR="${LIGHTHOUSE_DIR:-$ROOT/benchmarks/.lighthouse}"
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"
BENCH_PORT="${BENCH_PORT:-5190}"
BASE="http://127.0.0.1:$BENCH_PORT"
# Lighthouse's performance score moves from run to run with what else the machine is doing
# (its simulated phone scales the CPU time it observes), so each page is audited RUNS times and
# the table shows the median, as Lighthouse's own guidance on variability advises.
RUNS="${LIGHTHOUSE_RUNS:-3}"

ensure_venv app
compile_translations
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || apt_install nodejs npm
[ -x "$CHROME_PATH" ] || apt_install chromium
if [ ! -x "$LH_DIR/node_modules/.bin/lighthouse" ] \
    || ! "$LH_DIR/node_modules/.bin/lighthouse" --version | grep -q "^$LIGHTHOUSE_VERSION\."; then
    echo "Instalando Lighthouse $LIGHTHOUSE_VERSION desde npm en $LH_DIR..."
    mkdir -p "$LH_DIR"
    (cd "$LH_DIR" && npm install --no-save --no-audit --no-fund --loglevel=error "lighthouse@$LIGHTHOUSE_VERSION")
fi
LIGHTHOUSE="$LH_DIR/node_modules/.bin/lighthouse"
REPORTS="$LH_DIR/reports"
mkdir -p "$REPORTS"
rm -f "$REPORTS"/*.json "$REPORTS"/*.name "$REPORTS"/cpu-slowdown

WORK="$(mktemp -d)"
SERVER=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

export APP_ENV=development FLASK_APP=wsgi.py DATABASE_URL="sqlite:///$WORK/bench.db"
# This checkout's code, whichever checkout the virtual environment was installed from.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
echo "Base de datos de demostración en $WORK..."
"$VENV/bin/flask" db upgrade >/dev/null 2>&1
"$VENV/bin/flask" seed-demo >/dev/null
# As scripts/serve runs it (one process with threads without Redis), without the access log.
"$VENV/bin/gunicorn" --workers 1 --threads 4 --bind "127.0.0.1:$BENCH_PORT" --timeout 30 \
    --log-level warning wsgi:app &
SERVER=$!
for _ in $(seq 1 100); do
    if "$VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$BASE/salud', timeout=2)" \
        2>/dev/null; then break; fi
    sleep 0.2
done

"$VENV/bin/python" benchmarks/lighthouse_pages.py "$BASE" "$WORK" > "$WORK/pages.tsv"

# Lighthouse's simulated phone multiplies the CPU time it observes by 4 (its default, used here),
# a factor meant for a fast desktop (benchmark index about 1,500); on a busy or slow machine the
# phone it simulates is slower than that, on a fast one faster. LIGHTHOUSE_CPU_SLOWDOWN=auto
# calibrates the factor from this machine's benchmark index (median of three short runs), with
# the formula of Lighthouse's CPU throttling calculator, as Lighthouse's throttling guide
# advises; a number fixes it.
LIGHTHOUSE_CPU_SLOWDOWN="${LIGHTHOUSE_CPU_SLOWDOWN:-4}"
LOGIN_URL="$(sed -n '2p' "$WORK/pages.tsv" | cut -f3)"
if [ "$LIGHTHOUSE_CPU_SLOWDOWN" = "auto" ]; then
    for i in 1 2 3; do
        "$LIGHTHOUSE" "$LOGIN_URL" --quiet --output=json --output-path="$WORK/calibration-$i.json" \
            --only-categories=performance --chrome-flags="--headless=new --no-sandbox --disable-gpu" \
            || true
    done
    LIGHTHOUSE_CPU_SLOWDOWN="$("$VENV/bin/python" benchmarks/lighthouse_table.py --calibrate "$WORK")"
fi
echo "Ralentización de CPU: ${LIGHTHOUSE_CPU_SLOWDOWN}x" >&2
printf '%s\n' "$LIGHTHOUSE_CPU_SLOWDOWN" > "$REPORTS/cpu-slowdown"
while IFS=$'\t' read -r n name url; do
    # LIGHTHOUSE_PAGES="1 6": only those pages (numbers in the order above).
    if [ -n "${LIGHTHOUSE_PAGES:-}" ] && [[ " $LIGHTHOUSE_PAGES " != *" $n "* ]]; then continue; fi
    for run in $(seq 1 "$RUNS"); do
        echo "Auditando $name ($run/$RUNS): $url" >&2
        # On a busy machine Chromium now and then loses the trace of a load (NO_NAVSTART):
        # such a run is tried once more.
        for attempt in 1 2; do
            if "$LIGHTHOUSE" "$url" --quiet --output=json --output-path="$REPORTS/$n-$run.json" \
                --only-categories=performance,accessibility,best-practices,seo \
                --extra-headers="$WORK/headers-$n.json" \
                --throttling.cpuSlowdownMultiplier="$LIGHTHOUSE_CPU_SLOWDOWN" \
                --chrome-flags="--headless=new --no-sandbox --disable-gpu"; then break; fi
            echo "Lighthouse falló en $url (intento $attempt)" >&2
            rm -f "$REPORTS/$n-$run.json"
        done
    done
    printf '%s\n' "$name" > "$REPORTS/$n.name"
done < "$WORK/pages.tsv"

"$VENV/bin/python" benchmarks/lighthouse_table.py $DETAILS "$REPORTS"
