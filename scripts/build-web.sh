#!/usr/bin/env bash
# Rebuild the browser's third-party files from npm (zhihui/web/package.json, pinned in
# package-lock.json) into zhihui/web/static/vendor. The output is committed: the server and the
# isolated deployment network never fetch anything at run time, and `make test` needs no npm.
set -euo pipefail
cd "$(dirname "$0")/../zhihui/web"
npm ci --no-audit --no-fund --silent
out=static/vendor
rm -rf "$out" && mkdir -p "$out/leaflet"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$out/leaflet/"
cp -r node_modules/leaflet/dist/images "$out/leaflet/"
cp node_modules/leaflet/LICENSE "$out/leaflet/LICENSE"
# Preact + hooks + htm in one ES module (no bundler needed).
cp node_modules/htm/preact/standalone.mjs "$out/preact-htm.mjs"
cp node_modules/htm/LICENSE "$out/preact-htm.LICENSE"
# axe-core (MPL-2.0) is for the accessibility test only; it is never served.
mkdir -p ../../tests/web/vendor
cp node_modules/axe-core/axe.min.js ../../tests/web/vendor/axe.min.js
cp node_modules/axe-core/LICENSE ../../tests/web/vendor/axe.LICENSE
node -e '
const fs = require("fs");
const pick = (n) => { const p = require(`./node_modules/${n}/package.json`); return {version: p.version, license: p.license}; };
fs.writeFileSync("static/vendor/VERSIONS.json", JSON.stringify({leaflet: pick("leaflet"), htm: pick("htm"), "axe-core": pick("axe-core")}, null, 2) + "\n");
'
echo "vendor files written to zhihui/web/$out"
