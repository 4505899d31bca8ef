#!/usr/bin/env bash
# `c2am report` in a real headless browser (Debian's chromium): the page of
# the run that tensorboard_resume.sh leaves (or RUN) loads from a file:// URL
# with no server; its charts are in the DOM, every image decoded (the page's
# own check, an attribute of <html>), no console message at all, and a
# screenshot of the expected size that is not blank. Skipped (exit 77) only
# where chromium is not installed.
# Usage: report_browser.sh C2AM WORK RUN [SCREENSHOT_COPY]
set -euo pipefail
C2AM=$1 WORK=$2 RUN=$3 COPY=${4:-}
PY=/usr/bin/python3
die() { echo "FAIL: $*" >&2; exit 1; }
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  echo "SKIPPED: chromium not installed (apt-get install chromium; launch/setup.sh installs it)"
  exit 77
fi
[ -d "$RUN" ] || die "no run folder $RUN (tensorboard_resume.sh makes it)"
rm -rf "$WORK" && mkdir -p "$WORK/home"
"$C2AM" report "$RUN" -o "$WORK/report.html" > "$WORK/report.out" || die "c2am report"
URL="file://$(cd "$WORK" && pwd)/report.html"
WIDTH=1280 HEIGHT=1600
# Root needs --no-sandbox; no D-Bus or GPU here; a loaded machine needs the long timeout.
browse() {
  HOME="$WORK/home" timeout 300 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$WORK/profile-$1" --hide-scrollbars --enable-logging=stderr --v=0 "${@:2}" "$URL"
}
browse dom --dump-dom > "$WORK/dom.html" 2> "$WORK/dom.log" || { tail -20 "$WORK/dom.log"; die "chromium --dump-dom"; }
browse shot --window-size=$WIDTH,$HEIGHT --screenshot="$WORK/report.png" > /dev/null 2> "$WORK/shot.log" ||
  { tail -20 "$WORK/shot.log"; die "chromium --screenshot"; }
if grep -h "CONSOLE" "$WORK/dom.log" "$WORK/shot.log"; then die "the page wrote to the console"; fi
"$PY" - "$WORK" "$WIDTH" "$HEIGHT" <<'PY'
import html, json, re, struct, sys
from PIL import Image
w, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
dom = open(f"{w}/dom.html").read()
m = re.search(r'data-report-check="([^"]*)"', dom)
assert m, "the page's load check did not run"
check = json.loads(html.unescape(m.group(1)))
charts = dom.count('<svg class="chart"')
print(f"browser: {charts} charts, {check['polylines']} curves, {check['decoded']}/{check['images']} images decoded")
assert check["images"] >= 2 and check["decoded"] == check["images"], check
assert charts >= 6 and check["polylines"] >= 10, (charts, check)
for title in ("train: loss", "CorLoc over the τ sweep", "BoxAcc over thresholds"):
    assert title in dom, title
png = open(f"{w}/report.png", "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (width, height), png[:24]
colours = Image.open(f"{w}/report.png").convert("RGB").getcolors(maxcolors=1 << 20)
assert colours is not None and len(colours) > 50, "the screenshot looks blank"
PY
[ -z "$COPY" ] || cp "$WORK/report.png" "$COPY"
echo "PASS: report renders in chromium: charts and images, no console messages, screenshot ${WIDTH}x${HEIGHT}"
