#!/usr/bin/env bash
# Records what the components of one Kubernetes release accept, as data `start --config` checks a
# cluster file against (src/plan/known_options/<version>.txt): each component's flags and
# feature gates, read from its own `--help`, and the top-level fields of KubeletConfiguration
# (kubelet.config.k8s.io/v1beta1) and KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1),
# read from their Go types in the release's staging modules. Nothing is guessed: a release without
# this file gets extra flags and gates refused, with this command as the fix.
#   scripts/component-flags.sh VERSION   (e.g. v1.37.2; its images built first)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/component-flags.sh VERSION (e.g. v1.37.2)}
[[ $version =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || { echo "not a release: $version" >&2; exit 1; }
minor=${BASH_REMATCH[1]}
patch=${BASH_REMATCH[2]}
cache=${LOCALKUBE_CACHE:-$HOME/.cache/localkube}

# The binaries of that release in the build cache: the folder whose kube-apiserver says so.
bin=""
for dir in "$cache"/artifacts/kubernetes/*/; do
  if [[ -x $dir/kube-apiserver ]] && [[ $("$dir/kube-apiserver" --version 2>/dev/null) == "Kubernetes $version" ]]; then
    bin=$dir
  fi
done
[[ -n $bin ]] || { echo "no binaries of $version in $cache: run \`localkube images build --kubernetes-version $version\` first" >&2; exit 1; }

modcache=$(go env GOMODCACHE)
staging=v0.$minor.$patch
for module in kubelet kube-proxy; do
  [[ -d $modcache/k8s.io/$module@$staging ]] || (cd "$(mktemp -d)" && go mod download "k8s.io/$module@$staging")
done

# `--name type  text` lines of a --help: the flag names.
flags() { "$bin/$1" --help 2>&1 | sed -n 's/^ \{2,\}\(-[a-z], \)\{0,1\}--\([a-z0-9][a-z0-9-]*\).*/\2/p' | sort -u; }
# The gates listed under --feature-gates: `kube:Name=true|false` (control plane) or `Name=true|false`.
gates() { "$bin/$1" --help 2>&1 | sed -n 's/^ \{8,\}\(kube:\)\{0,1\}\([A-Z][A-Za-z0-9]*\)=true|false.*/\2/p' | sort -u; }
# Top-level json names of a Go struct type: the one-tab-indented fields between its braces.
fields() {
  awk -v type="$2" '
    $0 ~ "^type " type " struct \\{" { inside = 1; next }
    inside && /^}/ { exit }
    inside && /^\t[A-Z]/ && match($0, /json:"[A-Za-z0-9]+/) { print substr($0, RSTART + 6, RLENGTH - 6) }
  ' "$1" | sort -u
}

out=src/plan/known_options/$version.txt
mkdir -p "$(dirname "$out")"
{
  echo "# What the components of Kubernetes $version accept: written by scripts/component-flags.sh, not by hand."
  echo "# <component> flag|gate|field <name>; flags and gates from each binary's --help, fields from the"
  echo "# config types in k8s.io/kubelet and k8s.io/kube-proxy $staging."
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    flags "$c" | sed "s/^/$c flag /"
    gates "$c" | sed "s/^/$c gate /"
  done
  fields "$modcache/k8s.io/kubelet@$staging/config/v1beta1/types.go" KubeletConfiguration | sed 's/^/kubelet field /'
  fields "$modcache/k8s.io/kube-proxy@$staging/config/v1alpha1/types.go" KubeProxyConfiguration | sed 's/^/kube-proxy field /'
} >"$out"
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
  for kind in flag gate field; do
    n=$(grep -c "^$c $kind " "$out" || true)
    ((n == 0)) || echo "$c: $n ${kind}s"
  done
done
echo "written: $out"
