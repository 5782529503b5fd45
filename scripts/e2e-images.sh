#!/usr/bin/env bash
# Builds the Kubernetes e2e test images (agnhost, busybox, nginx, ...) on this machine, under the
# exact names e2e.test uses (registry.k8s.io/e2e-test-images/agnhost:2.59, ...), and loads them
# into a profile's nodes. No registry is needed: Go binaries come from the Go module proxy through
# localkube's wrapper module, the rest from a Debian root filesystem (tests/conformance/images/).
#
# Usage:
#   scripts/e2e-images.sh [-p PROFILE] [--kubernetes-version vX.Y.Z] [--no-load] [IMAGE...]
#
#   IMAGE     folders of tests/conformance/images/ (agnhost busybox nginx jessie-dnsutils glibc-dns-testing nonroot
#             nonewprivs sample-apiserver nautilus kitten pause etcd); default: all of them.
#   -p        the profile whose Kubernetes version is built and whose nodes get the images
#             (default: localkube). Without a running node, the images are only built.
#   --kubernetes-version   build for this version instead of the profile's (then the images are
#             loaded only if the profile runs that version).
#   --no-load only build.
#
# It prints the image names it produced, one a line, on stdout (progress goes to stderr), e.g.
#   scripts/e2e-images.sh -p dev agnhost   ->   registry.k8s.io/e2e-test-images/agnhost:2.55 ...
# Needs `localkube images build` to have run for the version (its resolution, localkube/coredns,
# localkube/pause and localkube/etcd are reused). Everything is cached: a second run with the same
# inputs builds nothing, and an image already in every node is not loaded again.
set -euo pipefail
# The whole script is one block, read before it runs: editing the file during a run cannot
# change what the run does.
{
# shellcheck source=scripts/lib/e2e-common.sh
source "$(dirname "$0")/lib/e2e-common.sh"
trap e2e_cleanup EXIT

profile="localkube"
version=""
load=1
images=()
while (($#)); do
    case "$1" in
        -p | --profile) profile="$2"; shift 2 ;;
        --kubernetes-version) version="$2"; shift 2 ;;
        --no-load) load=0; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) e2e_die "unknown option $1 (see --help)" ;;
        *) images+=("$1"); shift ;;
    esac
done
all=0
((${#images[@]} > 0)) || { images=("${E2E_ALL_IMAGES[@]}"); all=1; }

exec 3>&1 1>&2
e2e_require jq:jq sha256sum:coreutils flock:util-linux docker:docker.io
if [[ -n "$version" ]]; then
    # A subshell that dies (no such profile) leaves it empty; the `|| true` must be outside it.
    profile_version="$(e2e_profile_version "$profile" 2>/dev/null)" || true
else
    profile_version="$(e2e_profile_version "$profile")"
    version="$profile_version"
fi
[[ "$version" == "$profile_version" ]] || load=0
e2e_log "test images for Kubernetes $version: ${images[*]}"
e2e_setup_version "$version"
# e2e.test's own list of names when it is built already (scripts/conformance.sh builds it).
export E2E_TEST_BIN=""
for d in "$E2E_CACHE/$version"/e2e.test/*/; do
    [[ -x "$d/e2e.test" ]] && E2E_TEST_BIN="$d/e2e.test"
done
for image in "${images[@]}"; do
    # Releases drop images (1.37 no longer uses jessie-dnsutils): by default, build what it names.
    if [[ $all == 1 && -z "$(e2e_image_names "$image")" ]]; then
        e2e_log "$image: not used by e2e.test $version, skipped"
        continue
    fi
    e2e_build_image "$image"
done
if [[ $load == 1 ]]; then
    if [[ -n "$(e2e_nodes "$profile")" ]]; then
        e2e_load_images "$profile" "${E2E_BUILT_NAMES[@]}"
    else
        e2e_log "profile '$profile' has no running node: images built, not loaded"
    fi
fi
printf '%s\n' "${E2E_BUILT_NAMES[@]}" | sort -u >&3
e2e_log "done"
exit
}
