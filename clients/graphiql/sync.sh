#!/usr/bin/env bash
# Copies the pinned GraphiQL, React and graphql-ws builds (from
# package-lock.json) and src/ into api/assets/graphiql, which the server
# compiles in. `--check` copies nothing and fails when the committed files
# differ from what the lockfile and src/ give: CI runs it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
assets="$here/../../api/assets/graphiql"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
declare -A files=(
  [graphiql.min.js]=node_modules/graphiql/graphiql.min.js
  [graphiql.min.css]=node_modules/graphiql/graphiql.min.css
  [react.production.min.js]=node_modules/react/umd/react.production.min.js
  [react-dom.production.min.js]=node_modules/react-dom/umd/react-dom.production.min.js
  [graphql-ws.min.js]=node_modules/graphql-ws/umd/graphql-ws.min.js
  [index.html]=src/index.html
  [init.js]=src/init.js
)
if [ "${1:-}" = --check ]; then
  stale=0
  for name in "${!files[@]}"; do
    if ! cmp -s "$here/${files[$name]}" "$assets/$name"; then
      echo "api/assets/graphiql/$name does not match ${files[$name]}" >&2
      stale=1
    fi
  done
  extra="$(cd "$assets" && ls | grep -v -x -F "$(printf '%s\n' "${!files[@]}")" || true)"
  if [ -n "$extra" ]; then
    echo "api/assets/graphiql holds files sync.sh does not make: $extra" >&2
    stale=1
  fi
  if [ "$stale" = 1 ]; then
    echo "run clients/graphiql/sync.sh and commit api/assets/graphiql" >&2
    exit 1
  fi
  echo "api/assets/graphiql matches clients/graphiql"
  exit 0
fi
mkdir -p "$assets"
for name in "${!files[@]}"; do
  cp "$here/${files[$name]}" "$assets/$name"
done
echo "copied ${#files[@]} files into api/assets/graphiql"
