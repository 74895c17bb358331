#!/usr/bin/env bash
# Installs, once, the policy scanner a cluster admin would run over the chart and the operator's
# objects: checkov from PyPI at a pinned version, in a virtualenv in the cache folder (keyed by
# version). Prints the checkov binary's path on its last line.
set -euo pipefail

CHECKOV_VERSION="3.3.30"
cache_root="${AEJ_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/async-enrichment}"
venv="$cache_root/checkov-$CHECKOV_VERSION"
if [[ ! -x "$venv/bin/checkov" ]]; then
  command -v python3 >/dev/null || {
    echo "scanner.sh: python3 is needed for checkov" >&2
    exit 1
  }
  started=$SECONDS
  echo "scanner.sh: installing checkov $CHECKOV_VERSION into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet "checkov==$CHECKOV_VERSION" >&2
  echo "scanner.sh: installed in $((SECONDS - started)) s" >&2
fi
echo "$venv/bin/checkov"
