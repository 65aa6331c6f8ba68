#!/usr/bin/env bash
# Property-based tests of the Open311 gateway from its own OpenAPI description: schemathesis reads
# GET <base>/openapi.yaml (the file services/open311/openapi.yaml the gateway serves) and sends
# the examples, the coverage cases and fuzzed requests of every operation; each answer must be no
# server error (5xx) and must match the schema of its status. About 2-3 minutes.
#
#   schemathesis_run.sh --state-dir BUILD/test-stack/infra [--st VENV/bin/st]
#   schemathesis_run.sh --base http://127.0.0.1:8311/open311/v2 [--api-key KEY]
#
# The API key (default dev-open311-key, or OPEN311_API_KEY) goes in the api_key query parameter of
# every operation that needs credentials (schemathesis.toml beside this file). The rate stays under
# the gateway's per-key limit, so that the answers are the handlers' rather than 429s.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${MELDPUNT_CACHE:-$HOME/.cache/meldpunt}"
st="$cache/venv/bin/st"
base="${OPEN311_BASE:-}"
state_dir=""
api_key="${OPEN311_API_KEY:-dev-open311-key}"
max_examples=30

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while (($#)); do
  case "$1" in
    --state-dir) state_dir="$2"; shift 2 ;;
    --base) base="$2"; shift 2 ;;
    --api-key) api_key="$2"; shift 2 ;;
    --st) st="$2"; shift 2 ;;
    --max-examples) max_examples="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) printf 'schemathesis_run: unknown argument %s\n' "$1" >&2; usage ;;
  esac
done

[[ -x "$st" ]] || { printf 'schemathesis_run: %s not found: run tools/setup\n' "$st" >&2; exit 1; }

if [[ -z "$base" ]]; then
  [[ -n "$state_dir" ]] || usage
  [[ -f "$state_dir/stack.json" ]] || { printf 'schemathesis_run: no stack state %s/stack.json\n' "$state_dir" >&2; exit 1; }
  # The address the stack harness recorded for the gateway (tests/harness/stack.py, stack.json).
  address="$("$(dirname "$st")/python" - "$state_dir/stack.json" <<'EOF'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    print(json.load(f).get("services", {}).get("open311", {}).get("http", ""))
EOF
)"
  [[ -n "$address" ]] || { printf 'schemathesis_run: no open311 gateway in %s/stack.json\n' "$state_dir" >&2; exit 1; }
  base="http://$address/open311/v2"
fi
base="${base%/}"

export OPEN311_API_KEY="$api_key"
printf 'schemathesis_run: %s against %s\n' "$("$st" --version 2>&1 | head -n1)" "$base"

# --generation-database none: nothing written to .hypothesis in the working directory.
exec timeout 600 "$st" --config-file "$here/schemathesis.toml" run "$base/openapi.yaml" \
  --url "$base" \
  --checks not_a_server_error,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "$max_examples" \
  --workers 1 \
  --seed 1 \
  --rate-limit 15/s \
  --request-timeout 10 \
  --wait-for-schema 30 \
  --generation-database none \
  --no-color
