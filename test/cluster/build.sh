#!/usr/bin/env bash
# Builds, once, the real Kubernetes control plane the tests run against (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl), etcd and helm, from the Go module proxy at
# pinned releases, into a cache outside the clone (fresh clones and CI reuse it). A second run
# finds the cache and returns at once. Prints the bin directory on its last line.
set -euo pipefail

KUBERNETES_VERSION="v1.33.13" # kubectl on the machines is 1.32; one minor of skew either side
HELM_VERSION="v3.19.0"

cache_root="${AEJ_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/async-enrichment}"
work="$cache_root/control-plane-$KUBERNETES_VERSION"
bin="$work/bin"
stamp="$bin/.complete-$KUBERNETES_VERSION-$HELM_VERSION"

if [[ -f "$stamp" ]]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "build.sh: Go is needed to build the control plane (https://go.dev/dl/)" >&2; exit 1; }
mkdir -p "$bin"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
step() { echo "build.sh: $*" >&2; }
fail() { echo "build.sh: step '$1' failed; see the output above. Rerun to resume: finished binaries are kept." >&2; exit 1; }

module="$work/module"
if [[ ! -f "$module/go.sum" ]]; then
  step "preparing a module pinning k8s.io/kubernetes $KUBERNETES_VERSION (first run downloads a few hundred MB)"
  mkdir -p "$module"
  staging_version="v0${KUBERNETES_VERSION#v1}"
  k8s_mod=$(cd "$module" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p') || fail "download k8s.io/kubernetes"
  {
    echo "module async-enrichment/control-plane"
    echo
    echo "go 1.24"
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    # k8s.io/kubernetes replaces its staging modules with local folders; a dependent module must
    # pin them to the matching published versions instead.
    grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging' "$k8s_mod" | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
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
  # etcd at the version this Kubernetes release is built against; its own module cannot be
  # `go install`ed (it has replace directives), so a two-line main calls its etcdmain here.
  mkdir -p "$module/etcd"
  cat >"$module/etcd/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$module" && go mod tidy -e >&2) || fail "resolve modules"
fi
[[ -f "$module/etcd/main.go" ]] || fail "prepare etcd (remove $module and rerun)"

build() {
  local name=$1 package=$2 directory=$3
  [[ -x "$bin/$name" ]] && return 0
  step "building $name"
  (cd "$directory" && nice -n 10 go build -trimpath -ldflags="-s -w" -o "$bin/$name" "$package" >&2) || fail "build $name"
}

for command in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build "$command" "k8s.io/kubernetes/cmd/$command" "$module"
done

build etcd ./etcd "$module"

if [[ ! -x "$bin/helm" ]]; then
  step "building helm $HELM_VERSION"
  GOBIN="$bin" nice -n 10 go install -trimpath -ldflags="-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2 || fail "build helm"
fi

touch "$stamp"
echo "$bin"
