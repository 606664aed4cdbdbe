#!/usr/bin/env bash
# Runs every test project of the solution and ends with one line: "N passed, N failed[, N skipped]".
# Works on a fresh Debian 12 machine with the .NET 10 SDK and Node.js (npm installs the OpenAPI linter, the webhook
# verifier, the Kubernetes schema validator and the dashboard's chart library; apt-get installs prometheus, chromium, a CJK font, postgresql and
# redis-server when missing: root).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

dotnet build Surge.slnx -c Release --nologo > "$log" 2>&1
build_status=$?
tail -n 3 "$log"
if [[ $build_status -ne 0 ]]; then
  grep -E " error " "$log" | sort -u | head -n 40
  echo "0 passed, 1 failed"
  exit 1
fi

# Debian packages some tests need: promtool checks /metrics (prometheus), the browser tests drive chromium, and
# Korean text needs a CJK font to be drawn in their screenshots (fonts-noto-cjk).
missing=()
command -v promtool > /dev/null || missing+=(prometheus)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -d /usr/share/fonts/opentype/noto ]] || missing+=(fonts-noto-cjk)
# The scenario bench's peers (started by the bench itself on loopback, in temporary directories).
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" > /dev/null || missing+=(postgresql)
command -v redis-server > /dev/null || missing+=(redis-server)
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "installing ${missing[*]} (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") > /dev/null 2>&1 \
    || echo "apt-get install ${missing[*]} failed (the tests that need them will say so)"
  # The packages may start their default servers; the tests start their own, so stop those.
  for service in postgresql redis-server; do service "$service" stop > /dev/null 2>&1 || true; done
fi

# The end-to-end carrier test verifies Surge's webhook signatures with the npm `standardwebhooks` package.
(cd tools/webhook-verify && npm install --no-audit --no-fund --loglevel=error > /dev/null) || echo "webhook-verify: npm install failed (the carrier end-to-end test will say so)"
# The browser tests check accessibility with axe-core (npm), injected into the pages they open.
(cd tools/a11y && npm install --no-audit --no-fund --loglevel=error > /dev/null) || echo "a11y: npm install failed (the browser tests will say so)"

dotnet test --solution Surge.slnx -c Release --no-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The Microsoft.Testing.Platform summary block prints totals for the whole run.
passed=$(grep -E '^\s+succeeded: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
failed=$(grep -E '^\s+failed: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
skipped=$(grep -E '^\s+skipped: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
passed=${passed:-0}; failed=${failed:-0}; skipped=${skipped:-0}
if [[ $status -ne 0 && $failed -eq 0 ]]; then failed=1; fi

# The OpenAPI document that `surge serve` publishes passes Redocly's recommended rules (one more test).
lint_openapi() {
  local data out pid url
  (cd tools/openapi-lint && npm install --no-audit --no-fund --loglevel=error > /dev/null) || { echo "openapi lint: npm install failed"; return 1; }
  data="$(mktemp -d)"; out="$data/serve.log"
  dotnet src/Surge.Cli/bin/Release/net10.0/surge.dll serve --data "$data/d" --port 0 --partitions 1 > "$out" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    grep -q '^surge: ready' "$out" && break
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.5
  done
  url="$(grep -oE 'serving http://[0-9.:]+/' "$out" | head -n 1 | sed 's/^serving //')"
  local ok=1
  if [[ -n "$url" ]] && node -e 'fetch(process.argv[1]).then(async r => { if (!r.ok) process.exit(1); require("fs").writeFileSync(process.argv[2], await r.text()); }).catch(() => process.exit(1))' "${url}openapi/v1.json" "$data/openapi.json"; then
    (cd tools/openapi-lint && npx --no-install redocly lint "$data/openapi.json" --format=summary) && ok=0
  else
    cat "$out"
  fi
  kill "$pid" 2> /dev/null; wait "$pid" 2> /dev/null
  rm -rf "$data"
  return $ok
}
if lint_openapi; then
  echo "openapi lint: passed"; passed=$((passed + 1))
else
  echo "openapi lint: FAILED"; failed=$((failed + 1))
fi

# The Kubernetes manifest validates against the Kubernetes API schemas (npm kubernetes-models; no cluster needed).
if (cd tools/k8s-validate && npm install --no-audit --no-fund --loglevel=error > /dev/null && node validate.mjs ../../deploy/kubernetes/*.yaml); then
  echo "kubernetes manifest: passed"; passed=$((passed + 1))
else
  echo "kubernetes manifest: FAILED"; failed=$((failed + 1))
fi

# `surge sim day` as a user runs it: the report's keys, three modes, a region loss, the same report from another
# process with the same seed; a bad region is one line and exit 2.
sim_check() {
  local data; data="$(mktemp -d)"
  local surge="dotnet src/Surge.Cli/bin/Release/net10.0/surge.dll"
  local ok=1
  if $surge sim day --regions seoul,tokyo --peak 100000 --json "$data/day.json" > "$data/out.txt" 2>&1 \
    && node -e '
      const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const modes = d.modes.map(m => m.mode).join(",");
      const keys = ["mode", "silo_hours", "silo_hours_ratio", "slo_breach_minutes", "refused", "lost"];
      if (!(d.wall_s > 0 && d.silos_max > 0 && d.peak_orders_per_s === 100000)) process.exit(1);
      if (modes !== "fixed-peak,reactive,predictive-reactive" || !d.modes.every(m => keys.every(k => k in m))) process.exit(1);
      if (!["sync_lost", "async_lost", "rto_s"].every(k => k in d.region_loss) || d.region_loss.sync_lost !== 0) process.exit(1);
    ' "$data/day.json" \
    && $surge sim day --regions seoul,tokyo --peak 100000 --json "$data/again.json" > /dev/null 2>&1 \
    && node -e '
      // Another process, the same seed: the same report (the wall time aside).
      const read = f => { const d = JSON.parse(require("fs").readFileSync(f, "utf8")); delete d.wall_s; return JSON.stringify(d); };
      if (read(process.argv[1]) !== read(process.argv[2])) process.exit(1);
    ' "$data/day.json" "$data/again.json"; then
    $surge sim day --regions mars > "$data/bad.txt" 2>&1
    if [[ $? -eq 2 && "$(wc -l < "$data/bad.txt")" -eq 1 ]] && grep -q "unknown region 'mars'" "$data/bad.txt"; then ok=0; else cat "$data/bad.txt"; fi
  else
    cat "$data/out.txt"
  fi
  rm -rf "$data"
  return $ok
}
if sim_check; then
  echo "sim day (CLI): passed"; passed=$((passed + 1))
else
  echo "sim day (CLI): FAILED"; failed=$((failed + 1))
fi

# The failed tests again, last, with their messages: the test hosts' output above can run to many screens.
failures="$(awk '
  /^[[:space:]]*failed [^ ]+ \([0-9]/ { n = 14 }
  /^[[:space:]]*(Standard output|Standard error)/ || /failed with [0-9]+ error/ { n = 0 }
  n > 0 { print; n-- }' "$log")"
if [[ -n "$failures" ]]; then
  echo "--- failed tests ---"
  echo "$failures"
fi

summary="$passed passed, $failed failed"
if [[ $skipped -gt 0 ]]; then summary="$summary, $skipped skipped"; fi
echo "$summary"
if [[ $status -ne 0 || $failed -ne 0 || $passed -eq 0 ]]; then exit 1; fi
