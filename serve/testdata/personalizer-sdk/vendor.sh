#!/usr/bin/env bash
# vendor.sh: rebuilds node_modules/ here, the official Azure Personalizer
# client SDK for JavaScript that serve's TestPersonalizerSDK runs, so that
# the test needs no network. It installs package.json's pinned packages as
# package-lock.json locks them (npm ci, from the npm registry, install
# scripts off), runs client.js against a stub endpoint to learn which files
# Node loads, and keeps only those, byte for byte, with each package's
# package.json and licence files. NOTICE lists the packages and licences.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/client.js" "$tmp/"
(cd "$tmp" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)

# a stub endpoint: 201 with a ranking for rank, 204 for the events, 400 for
# a reward above 1 or 51 actions, 404 for an unknown event
cat >"$tmp/stub.js" <<'JS'
const http = require("http");
const srv = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const err = (s, code) => { res.writeHead(s, { "Content-Type": "application/json" }); res.end(JSON.stringify({ error: { code, message: code } })); };
    if (req.url.includes("never-ranked")) return err(404, "ResourceNotFound");
    if (req.url.endsWith("/rank")) {
      const r = JSON.parse(body);
      if (r.actions.length > 50 || (r.excludedActions || []).length === r.actions.length) return err(400, "InvalidRankRequest");
      res.writeHead(201, { "Content-Type": "application/json" });
      return res.end(JSON.stringify({ ranking: r.actions.map((a, i) => ({ id: a.id, probability: i ? 0 : 1 })), eventId: r.eventId || "e", rewardActionId: r.actions[0].id }));
    }
    if (body && JSON.parse(body).value > 1) return err(400, "InvalidRewardRequest");
    res.writeHead(204);
    res.end();
  });
});
srv.listen(0, "127.0.0.1", () => { process.stdout.write(String(srv.address().port) + "\n"); });
JS
node "$tmp/stub.js" >"$tmp/port" &
stub=$!
trap 'kill $stub 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [[ -s "$tmp/port" ]] && break; sleep 0.1; done
(cd "$tmp" && NEXTBEST_SDK_LOADED="$tmp/loaded" node client.js "http://127.0.0.1:$(cat "$tmp/port")" key >/dev/null)

rm -rf "$here/node_modules"
packages=()
while read -r f; do
	mkdir -p "$here/$(dirname "$f")"
	cp "$tmp/$f" "$here/$f"
	p="$(sed -E 's#^(node_modules/(@[^/]+/)?[^/]+)/.*#\1#' <<<"$f")"
	[[ " ${packages[*]} " == *" $p "* ]] || packages+=("$p")
done <"$tmp/loaded"
{
	echo "The packages under node_modules/, as npm installed them (package-lock.json), keeping"
	echo "only the files client.js loads; each keeps its package.json and licence files."
	echo
	for p in "${packages[@]}"; do
		cp "$tmp/$p/package.json" "$here/$p/"
		find "$tmp/$p" -maxdepth 1 -type f -iregex '.*/\(licen[cs]e\|copying\|notice\)[^/]*' -exec cp {} "$here/$p/" \;
		node -e 'const p=require(process.argv[1]); console.log(`${p.name} ${p.version}: ${p.license}`)' "$tmp/$p/package.json"
	done
} >"$here/NOTICE"
echo "vendored ${#packages[@]} packages, $(wc -l <"$tmp/loaded") files" >&2
