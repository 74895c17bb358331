#!/usr/bin/env bash
# Builds the project's image from its Dockerfile, unchanged, with buildah on the node:24 stand-in
# that build.sh put in buildah's storage, and writes it as an archive for containerd. The archive
# is kept per content of the build context, so an unchanged checkout reuses it; RUN layers are
# cached (--layers), so a source change rebuilds only the COPY layers. Prints the archive's path
# on its last line, with each step's time on stderr.
set -euo pipefail

IMAGE="${AEJ_TEST_IMAGE:-ghcr.io/async-enrichment/async-enrichment:test}"
cache_root="${AEJ_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/async-enrichment}"
repository="$(cd "$(dirname "$0")/../.." && pwd)"
step() { echo "image.sh: $*" >&2; }
buildah_storage() {
  nice -n 10 buildah --root "$cache_root/buildah/storage" --runroot "$cache_root/buildah/run" --storage-driver overlay "$@"
}

cd "$repository"
# What the build can see: the checkout's files (committed or not) less .dockerignore's folders.
ignored=$(grep -v '^\s*#' .dockerignore | sed '/^\s*$/d' | paste -sd '|')
context_hash=$(git ls-files --cached --others --exclude-standard |
  grep -vE "^($ignored)(/|$)" | sort | while read -r file; do [[ -f $file ]] && echo "$file"; done |
  xargs -d '\n' sha256sum | sha256sum | cut -c1-16)
archive="$cache_root/images/project-$context_hash.tar"
mkdir -p "$cache_root/images"
exec 9>"$cache_root/images/.lock"
flock 9
if [[ ! -f "$archive" ]]; then
  started=$SECONDS
  step "building $IMAGE from the Dockerfile"
  # npm ci in the build trusts what this machine trusts (its HTTPS may go through an inspecting
  # proxy with a CA of its own): the host's CA bundle and an npmrc naming it, for RUN steps only.
  trust=()
  ca_bundle=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
  if [[ -f $ca_bundle ]]; then
    echo "cafile=/run/host-ca.crt" >"$cache_root/images/npmrc"
    trust=(--volume "$ca_bundle:/run/host-ca.crt:ro" --volume "$cache_root/images/npmrc:/usr/local/etc/npmrc:ro")
  fi
  # chroot isolation: crun cannot run on this kernel's hybrid cgroups, and RUN needs no more.
  buildah_storage bud --quiet --layers --pull-never --isolation chroot "${trust[@]}" \
    --tag "$IMAGE" --file Dockerfile . >&2
  step "built in $((SECONDS - started)) s; $(buildah_storage images --format '{{.Size}}' "$IMAGE")"
  started=$SECONDS
  rm -f "$cache_root"/images/project-*.tar
  # Earlier builds' images lose their tag to this one; their layers are kept only if still used.
  buildah_storage rmi --prune >/dev/null 2>&1 || true
  buildah_storage push --quiet "$IMAGE" "docker-archive:$archive.partial:$IMAGE" >&2
  mv "$archive.partial" "$archive"
  step "archived in $((SECONDS - started)) s ($(du -m "$archive" | cut -f1) MB): $archive"
fi
echo "$archive"
