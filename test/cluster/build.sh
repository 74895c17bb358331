#!/usr/bin/env bash
# Builds, once, the real Kubernetes control plane the tests run against (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl), etcd and helm, from the Go module proxy at
# pinned releases, into a cache outside the clone (fresh clones and CI reuse it). A second run
# finds the stamp file and returns at once. Prints the bin directory on its last line; progress and
# errors go to stderr, each failure naming its step.
set -euo pipefail

# 1.33 is within kubectl's one-minor skew of the machines' kubectl 1.32; a kubectl of the same
# release is built anyway, so the tests do not depend on what the machine has.
KUBERNETES_VERSION="v1.33.13"
# The etcd that Kubernetes 1.33 is tested with (its go.mod and build/dependencies.yaml).
ETCD_VERSION="v3.5.21"
HELM_VERSION="v3.19.0"

cache_root="${AEJ_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/async-enrichment}"
work="$cache_root/k8s-$KUBERNETES_VERSION"
bin="$work/bin"
stamp="$bin/.complete-etcd-$ETCD_VERSION-helm-$HELM_VERSION"

if [[ -f "$stamp" ]]; then
  echo "$bin"
  exit 0
fi

step() { echo "build.sh: $*" >&2; }
fail() {
  echo "build.sh: step '$1' failed: $2. Rerun to resume; finished binaries are kept." >&2
  exit 1
}
# go.dev's installer puts Go there without always adding it to PATH.
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || fail "find Go" "no 'go' on PATH (Go >= 1.24 is needed, https://go.dev/dl/)"
mkdir -p "$bin"
# Two test files may start at once on a fresh machine: one builds, the other waits for it.
exec 9>"$work/.lock"
if command -v flock >/dev/null; then
  flock 9
  if [[ -f "$stamp" ]]; then
    echo "$bin"
    exit 0
  fi
fi
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

module="$work/module"
if [[ ! -f "$module/.prepared" ]]; then
  step "preparing a module pinning k8s.io/kubernetes $KUBERNETES_VERSION (first run downloads ~1 GB of modules)"
  rm -rf "$module"
  mkdir -p "$module/etcd"
  k8s_mod=$(cd "$module" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
    sed -n 's/.*"GoMod": "\(.*\)".*/\1/p') || true
  [[ -f "$k8s_mod" ]] || fail "download k8s.io/kubernetes" "the Go module proxy did not serve k8s.io/kubernetes@$KUBERNETES_VERSION (see above)"
  staging_version="v0${KUBERNETES_VERSION#v1}"
  {
    echo "module async-enrichment/control-plane"
    echo
    echo "go 1.24"
    echo
    echo "require ("
    echo "	k8s.io/kubernetes $KUBERNETES_VERSION"
    echo "	go.etcd.io/etcd/server/v3 $ETCD_VERSION"
    echo ")"
    echo
    # k8s.io/kubernetes replaces its staging modules (k8s.io/api, k8s.io/apiserver, ...) with local
    # folders, which a dependent module cannot see; pin each to its published v0.X.Y instead.
    grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging' "$k8s_mod" |
      awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
  } >"$module/go.mod"
  cat >"$module/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  # etcd's own main module has replace directives, so `go install` refuses it; a two-line main
  # calling its etcdmain builds the same server.
  cat >"$module/etcd/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$module" && go mod tidy -e >&2) || fail "resolve modules" "go mod tidy in $module (see above)"
  touch "$module/.prepared"
fi

build() {
  local name=$1 package=$2
  [[ -x "$bin/$name" ]] && return 0
  step "building $name"
  (cd "$module" && nice -n 10 go build -trimpath -ldflags="-s -w" -o "$bin/$name.partial" "$package" >&2) ||
    fail "build $name" "go build $package (see above)"
  mv "$bin/$name.partial" "$bin/$name"
}

for command in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build "$command" "k8s.io/kubernetes/cmd/$command"
done
build etcd ./etcd

if [[ ! -x "$bin/helm" ]]; then
  step "building helm $HELM_VERSION"
  # helm is its own main module without replace directives, so go install resolves it as pinned.
  (GOBIN="$work/helm-bin" nice -n 10 go install -trimpath -ldflags="-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2) ||
    fail "build helm" "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION (see above)"
  mv "$work/helm-bin/helm" "$bin/helm"
  rmdir "$work/helm-bin"
fi

touch "$stamp"
echo "$bin"
