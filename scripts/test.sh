#!/usr/bin/env bash
# Runs every test project of the solution and ends with one line: "N passed, N failed[, N skipped]".
# Works on a fresh Debian 12 machine with the .NET 10 SDK; needs no external service yet.
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

dotnet test --solution Surge.slnx -c Release --no-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The Microsoft.Testing.Platform summary block prints totals for the whole run.
passed=$(grep -E '^\s+succeeded: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
failed=$(grep -E '^\s+failed: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
skipped=$(grep -E '^\s+skipped: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
passed=${passed:-0}; failed=${failed:-0}; skipped=${skipped:-0}
if [[ $status -ne 0 && $failed -eq 0 ]]; then failed=1; fi

summary="$passed passed, $failed failed"
if [[ $skipped -gt 0 ]]; then summary="$summary, $skipped skipped"; fi
echo "$summary"
if [[ $status -ne 0 || $failed -ne 0 || $passed -eq 0 ]]; then exit 1; fi
