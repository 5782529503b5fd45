# shellcheck shell=bash
# Shared by scripts/conformance.sh and scripts/e2e-images.sh (sourced, not run): the Kubernetes
# version of a profile, the wrapper Go module localkube builds Kubernetes through, a small
# content-addressed cache for the conformance binaries and the test images' root filesystem, the
# test images themselves, and loading them into a profile's nodes.
#
# Cache layout (all under $LOCALKUBE_CACHE, default ~/.cache/localkube):
#   conformance/<version>/module/                go.mod (localkube's wrapper) + go.sum, reused
#   conformance/<version>/<artifact>/<key>/      outputs + manifest.json (sha256 of each file)
#   conformance/debian-base/<key>/rootfs.tar     the test images' shared Debian root filesystem
#   conformance/tmp/                             builds in progress (renamed into place when done)
#   conformance/logs/                            full output of every build
# A key is the sha256 of every input of an artifact (recipe, Go version, platform, go.mod,
# flags, packages), never of its outputs: same inputs, same key, nothing rebuilt.

E2E_RECIPE="localkube-conformance/1"
LK_HOME="${LOCALKUBE_HOME:-$HOME/.local/share/localkube}"
LK_CACHE="${LOCALKUBE_CACHE:-$HOME/.cache/localkube}"
E2E_CACHE="$LK_CACHE/conformance"
E2E_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
E2E_IMAGES_DIR="$E2E_REPO_ROOT/tests/conformance/images"
E2E_START=${E2E_START:-$SECONDS}
# Upstream's build tags for release binaries and test binaries (hack/lib/golang.sh); the same as
# localkube's component build, so the Go build cache serves the packages both compile.
E2E_GO_TAGS="selinux,notest"
E2E_LABEL_KEY="io.localkube.build-key"

e2e_log() { printf '[%5ss] %s\n' "$((SECONDS - E2E_START))" "$*"; }
e2e_die() { printf '[%5ss] error: %s\n' "$((SECONDS - E2E_START))" "$*" >&2; exit 1; }

e2e_cleanup() {
    # Temporary folders of this run (subshells make theirs under the same pid, $$).
    rm -rf -- "$E2E_CACHE"/tmp/*."$$".* 2>/dev/null || true
    return 0
}

e2e_mktemp() {
    mkdir -p "$E2E_CACHE/tmp"
    mktemp -d "$E2E_CACHE/tmp/$1.$$.XXXXXX"
}

# Installs Debian packages for the commands this tooling needs, when they are missing.
e2e_require() {
    local missing=() cmd pkg
    for pair in "$@"; do
        cmd="${pair%%:*}"
        pkg="${pair#*:}"
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    e2e_log "installing ${missing[*]} (apt-get)"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

e2e_sha256() { sha256sum | cut -d' ' -f1; }

# The localkube binary: $LOCALKUBE_BIN, else the release build of this checkout.
e2e_localkube() {
    local bin="${LOCALKUBE_BIN:-$E2E_REPO_ROOT/target/release/localkube}"
    [[ -x "$bin" ]] || e2e_die "no localkube binary at $bin: run \`cargo build --release --locked\` (or set LOCALKUBE_BIN)"
    "$bin" "$@"
}

# The Kubernetes version a profile runs: its config.yaml, else `localkube version`'s default.
e2e_profile_version() {
    local profile="$1" config="$LK_HOME/profiles/$1/config.yaml" v=""
    if [[ -f "$config" ]]; then
        v="$(sed -n 's/^kubernetesVersion:[[:space:]]*"\{0,1\}\(v[0-9][^"[:space:]]*\)"\{0,1\}.*/\1/p' "$config" | head -n1)"
    fi
    if [[ -z "$v" ]]; then
        v="$(e2e_localkube version 2>/dev/null | grep -o 'v1\.[0-9]*\.[0-9]*' | tail -n1 || true)"
    fi
    [[ "$v" =~ ^v1\.[0-9]+\.[0-9]+$ ]] || e2e_die "cannot tell which Kubernetes version profile '$profile' runs (no $config, and \`localkube version\` named none)"
    printf '%s\n' "$v"
}

# The resolution localkube stored for a version (what `localkube images build` reads first).
e2e_resolution() {
    local version="$1" f
    for f in "$LK_CACHE"/artifacts/resolve/*/resolution.json; do
        [[ -f "$f" ]] || continue
        if [[ "$(jq -r .kubernetes_version "$f")" == "$version" ]]; then
            printf '%s\n' "$f"
            return 0
        fi
    done
    e2e_die "localkube has not resolved Kubernetes $version yet: run \`localkube images build --kubernetes-version $version\` first (it also builds the components the test images reuse)"
}

# Upstream's version flags, as localkube sets them for the components (plan::images::kubernetes_ldflags):
# e2e.test then reports the same version as the cluster. The Kubernetes artifact's manifest
# records the flags it was built with; when it is there, its value wins (the newest such
# artifact's, should localkube have built the version more than once).
e2e_ldflags() {
    local version="$1" resolution="$2" m recorded
    # shellcheck disable=SC2045 # names are cache keys (hex digits)
    for m in $(ls -t "$LK_CACHE"/artifacts/kubernetes/*/manifest.json 2>/dev/null); do
        [[ -f "$m" ]] || continue
        if [[ "$(jq -r '.inputs.kubernetes // ""' "$m")" == "$version" ]]; then
            recorded="$(jq -r '.inputs.ldflags // ""' "$m")"
            if [[ -n "$recorded" ]]; then
                printf '%s\n' "$recorded"
                return 0
            fi
        fi
    done
    local bare="${version#v}" major minor commit date flags="-s -w" pkg
    major="${bare%%.*}"
    minor="${bare#*.}"
    minor="${minor%%.*}"
    commit="$(jq -r '.git_commit // ""' "$resolution")"
    date="$(jq -r '.build_date' "$resolution")"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
        flags+=" -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
    done
    printf '%s\n' "$flags"
}

# The environment of every go command, as localkube's (plan::images::go_env).
e2e_go_env() {
    export CGO_ENABLED=0 GOOS=linux GOARCH="$E2E_GOARCH" GOFLAGS="-mod=mod -buildvcs=false" \
        GOTOOLCHAIN=local GOWORK=off GO111MODULE=on
}

# Sets E2E_VERSION, E2E_RESOLUTION, E2E_GOMOD (the wrapper go.mod text), E2E_LDFLAGS, E2E_GOVERSION,
# E2E_GOARCH, E2E_MODULE (a folder holding the wrapper go.mod and its go.sum) and E2E_K8S_DIR
# (the downloaded k8s.io/kubernetes module, read for the test images' files).
e2e_setup_version() {
    E2E_VERSION="$1"
    command -v go >/dev/null || e2e_die "no \`go\` on PATH: the conformance binaries are compiled like localkube's components (Go >= the go line of k8s.io/kubernetes' go.mod)"
    E2E_RESOLUTION="$(e2e_resolution "$E2E_VERSION")"
    E2E_GOMOD="$(jq -r .wrapper_gomod "$E2E_RESOLUTION")"
    E2E_LDFLAGS="$(e2e_ldflags "$E2E_VERSION" "$E2E_RESOLUTION")"
    E2E_GOVERSION="$(GOTOOLCHAIN=local go env GOVERSION)"
    E2E_GOARCH="$(docker version --format '{{.Server.Arch}}' 2>/dev/null || go env GOARCH)"
    case "$E2E_GOARCH" in x86_64) E2E_GOARCH=amd64 ;; aarch64) E2E_GOARCH=arm64 ;; esac
    E2E_MODULE="$E2E_CACHE/$E2E_VERSION/module"
    mkdir -p "$E2E_MODULE"
    # go (-mod=mod) adds requirements to go.mod and checksums to go.sum as it resolves; both are
    # kept for the next build. localkube's go.mod, as resolved, is kept apart: when it changes,
    # the module starts over from it.
    if [[ ! -f "$E2E_MODULE/go.mod" ]] || [[ "$(cat "$E2E_MODULE/go.mod.localkube" 2>/dev/null)" != "$E2E_GOMOD" ]]; then
        printf '%s\n' "$E2E_GOMOD" >"$E2E_MODULE/go.mod.new"
        rm -f "$E2E_MODULE/go.sum"
        mv "$E2E_MODULE/go.mod.new" "$E2E_MODULE/go.mod"
        printf '%s' "$E2E_GOMOD" >"$E2E_MODULE/go.mod.localkube"
    fi
    E2E_K8S_DIR="$(cd "$E2E_MODULE" && e2e_go_env && go mod download -json "k8s.io/kubernetes@$E2E_VERSION" | jq -r .Dir)"
    [[ -d "$E2E_K8S_DIR" ]] || e2e_die "could not download k8s.io/kubernetes@$E2E_VERSION from the Go module proxy"
}

# Whether a heavy build (go build/test, mmdebstrap, cargo) other than this script's own ancestors
# runs on this machine. Ancestors do not count: run from the test suite, the `cargo test` above
# this script would be waited for, and it cannot end before this script does.
e2e_other_builds_running() {
    local ancestors=" " pid=$$ p
    while [[ -n "$pid" && "$pid" -gt 1 ]]; do
        ancestors+="$pid "
        pid="$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')"
    done
    for p in $(pgrep -f '(^|/)go (build|test|install)|/compile |mmdebstrap|(^|/)cargo (build|test)' 2>/dev/null); do
        [[ "$ancestors" == *" $p "* ]] || return 0
    done
    return 1
}

# Waits while another heavy build runs on this machine: on 2 cores two of them at once only make
# both slower. E2E_NO_WAIT=1 skips the wait.
e2e_wait_for_quiet_cpu() {
    [[ "${E2E_NO_WAIT:-0}" == 1 ]] && return 0
    local said=0
    while e2e_other_builds_running; do
        if [[ $said == 0 ]]; then
            e2e_log "waiting for another build on this machine to finish (E2E_NO_WAIT=1 to skip)"
            said=1
        fi
        sleep 20
    done
}

# Verifies an artifact folder against its manifest: every file present with its sha256.
e2e_verify() {
    local dir="$1" m="$1/manifest.json" name sum
    [[ -f "$m" ]] || return 1
    while IFS=$'\t' read -r name sum; do
        [[ -f "$dir/$name" ]] || return 1
        [[ "$(e2e_sha256 <"$dir/$name")" == "$sum" ]] || return 1
    done < <(jq -r '.files | to_entries[] | [.key, .value.sha256] | @tsv' "$m")
}

# Writes the manifest of an output folder and renames it into place (atomic: the final folder is
# complete or absent). $1 artifact name, $2 key, $3 output folder, $4 final folder, $5 JSON inputs.
e2e_commit() {
    local artifact="$1" key="$2" out="$3" final="$4" inputs="$5" files="{}" f
    for f in "$out"/*; do
        [[ -f "$f" ]] || continue
        files="$(jq --arg n "$(basename "$f")" --arg s "$(e2e_sha256 <"$f")" --argjson z "$(stat -c %s "$f")" \
            '. + {($n): {sha256: $s, size: $z}}' <<<"$files")"
    done
    jq -n --arg a "$artifact" --arg k "$key" --argjson f "$files" --argjson i "$inputs" \
        '{artifact: $a, key: $k, files: $f, inputs: $i}' >"$out/manifest.json"
    mkdir -p "$(dirname "$final")"
    rm -rf "$final.old"
    [[ -e "$final" ]] && mv "$final" "$final.old"
    mv "$out" "$final"
    rm -rf "$final.old"
}

# Runs a long command with its output in a log file, printing a progress line every minute.
e2e_run_logged() {
    local what="$1" log="$2"
    shift 2
    mkdir -p "$(dirname "$log")"
    local started=$SECONDS
    "$@" >"$log" 2>&1 &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        for _ in $(seq 1 30); do
            sleep 2
            kill -0 "$pid" 2>/dev/null || break
        done
        kill -0 "$pid" 2>/dev/null && e2e_log "  ... $what: $((SECONDS - started)) s so far (log: $log)"
    done
    if ! wait "$pid"; then
        tail -n 30 "$log" >&2
        e2e_die "$what failed after $((SECONDS - started)) s (full log: $log)"
    fi
}

# One Go-built artifact: $1 name, $2 "build"|"test", $3 package, $4 output file name, $5 tags
# ("" for none), $6 linker flags added to the version flags (optional). Prints the artifact
# folder. A second call with the same inputs does nothing.
e2e_go_artifact() {
    local name="$1" mode="$2" pkg="$3" file="$4" tags="$5" ldflags="$E2E_LDFLAGS${6:+ $6}"
    local key
    key="$(printf '%s\n' "$E2E_RECIPE" "go-$mode" "$name" "$E2E_GOVERSION" "linux/$E2E_GOARCH" \
        "$E2E_GOMOD" "$ldflags" "$tags" "$pkg" | e2e_sha256)"
    local final="$E2E_CACHE/$E2E_VERSION/$name/$key"
    if e2e_verify "$final"; then
        e2e_log "$name: up to date ($final)" >&2
        printf '%s\n' "$final"
        return 0
    fi
    e2e_wait_for_quiet_cpu >&2
    local tmp out
    tmp="$(e2e_mktemp "$name")"
    out="$tmp/out"
    mkdir -p "$out"
    local args=()
    if [[ $mode == test ]]; then args=(test -c); else args=(build); fi
    args+=(-o "$out/$file" -trimpath -ldflags "$ldflags")
    [[ -n "$tags" ]] && args+=(-tags "$tags")
    args+=("$pkg")
    e2e_log "compiling $name ($pkg, Kubernetes $E2E_VERSION) ..." >&2
    local started=$SECONDS
    (
        cd "$E2E_MODULE" || exit 1
        e2e_go_env
        exec 9>"$E2E_CACHE/$E2E_VERSION/module.lock"
        flock 9
        e2e_run_logged "compiling $name" "$E2E_CACHE/logs/$name-$key.log" go "${args[@]}"
    ) >&2
    local inputs
    inputs="$(jq -n --arg go "$E2E_GOVERSION" --arg p "linux/$E2E_GOARCH" --arg m "$E2E_GOMOD" \
        --arg l "$ldflags" --arg t "$tags" --arg k "$E2E_VERSION" --arg c "go ${args[*]}" \
        '{go: $go, platform: $p, "go.mod": $m, ldflags: $l, tags: $t, kubernetes: $k, command: $c}')"
    e2e_commit "$name" "$key" "$out" "$final" "$inputs"
    rm -rf "$tmp"
    e2e_log "$name: compiled in $((SECONDS - started)) s, $(du -h "$final/$file" | cut -f1)" >&2
    printf '%s\n' "$final"
}

e2e_build_e2e_test() { e2e_go_artifact e2e.test test k8s.io/kubernetes/test/e2e e2e.test "$E2E_GO_TAGS"; }

# ginkgo's CLI at the version k8s.io/kubernetes requires: the wrapper module resolves it from
# that go.mod, so it is the same ginkgo the e2e.test above links.
e2e_build_ginkgo() { e2e_go_artifact ginkgo build github.com/onsi/ginkgo/v2/ginkgo ginkgo ""; }

# ---------------------------------------------------------------------------------------------
# Test images

# The images this tooling builds (folders of tests/conformance/images/), in dependency order.
E2E_ALL_IMAGES=(agnhost busybox nginx jessie-dnsutils glibc-dns-testing nonroot nonewprivs sample-apiserver nautilus kitten pause etcd)
E2E_DEBIAN_MIRROR="${LOCALKUBE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
E2E_DEBIAN_MIRROR="${E2E_DEBIAN_MIRROR%/}"

# The names e2e.test uses for the images of one of our folders, one a line. From
# `e2e.test --list-images` when e2e.test is built (E2E_TEST_BIN set), else from the same table
# in the module (test/utils/image/manifest.go). Only upstream's registries: the private and the
# invalid registry's names are meant to fail to pull.
e2e_image_names() {
    local short="$1" list
    list="$(e2e_list_images)"
    case "$short" in
        pause | etcd) grep -E "^registry\.k8s\.io/$short:" <<<"$list" || true ;;
        *) grep -E "^registry\.k8s\.io/e2e-test-images/$short:" <<<"$list" || true ;;
    esac
}

E2E_LIST_CACHE=""
e2e_list_images() {
    if [[ -z "$E2E_LIST_CACHE" ]]; then
        if [[ -n "${E2E_TEST_BIN:-}" && -x "${E2E_TEST_BIN:-}" ]]; then
            E2E_LIST_CACHE="$("$E2E_TEST_BIN" --list-images 2>/dev/null | grep -E '^[a-z0-9.-]+/' || true)"
        fi
        if [[ -z "$E2E_LIST_CACHE" ]]; then
            E2E_LIST_CACHE="$(e2e_manifest_images "$E2E_K8S_DIR/test/utils/image/manifest.go")"
        fi
    fi
    printf '%s\n' "$E2E_LIST_CACHE"
}

# The default image names of test/utils/image/manifest.go: its registry list and its
# `configs[X] = Config{list.Registry, "name", "version"}` lines.
e2e_manifest_images() {
    local -A reg=()
    local name value list image version
    while read -r name value; do
        reg[$name]="$value"
    done < <(sed -n '/initRegistry = RegistryList{/,/^\t}/ s/^[[:space:]]*\([A-Za-z0-9]*\):[[:space:]]*"\([^"]*\)".*/\1 \2/p' "$1")
    while read -r list image version; do
        [[ -n "${reg[$list]:-}" ]] && printf '%s/%s:%s\n' "${reg[$list]}" "$image" "$version"
    done < <(sed -n 's/.*configs\[[A-Za-z0-9]*\] = Config{list\.\([A-Za-z0-9]*\), "\([^"]*\)", "\([^"]*\)"}.*/\1 \2 \3/p' "$1")
    return 0
}

# The key of the Debian root filesystem shared by the test images, from its package list and the
# mmdebstrap options (see e2e_mmdebstrap_args).
e2e_base_packages() {
    sed -e 's/#.*//' "$E2E_IMAGES_DIR/debian-base/packages.txt" | tr -s ' \t\n' '\n' | sed '/^$/d' | paste -sd, -
}

e2e_mmdebstrap_args() {
    local out="$1"
    printf '%s\n' --variant=minbase \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --architectures="$E2E_GOARCH" \
        --include="$(e2e_base_packages)" \
        bookworm "$out" \
        "deb $E2E_DEBIAN_MIRROR bookworm main" \
        "deb $E2E_DEBIAN_MIRROR bookworm-updates main" \
        "deb $E2E_DEBIAN_MIRROR-security bookworm-security main"
}

# Makes (or finds) the shared Debian root filesystem and imports it into Docker; sets E2E_BASE_TAG
# and E2E_BASE_KEY.
e2e_debian_base() {
    [[ -n "${E2E_BASE_TAG:-}" ]] && return 0
    local args key
    mapfile -t args < <(e2e_mmdebstrap_args OUT)
    key="$(printf '%s\n' "$E2E_RECIPE" debian-base "${args[@]}" | e2e_sha256)"
    export E2E_BASE_KEY="$key"
    E2E_BASE_TAG="localkube-e2e/debian-base:${key:0:16}"
    if [[ "$(e2e_image_key "$E2E_BASE_TAG")" == "$key" ]]; then
        e2e_log "debian-base: up to date ($E2E_BASE_TAG)"
        return 0
    fi
    local final="$E2E_CACHE/debian-base/$key"
    if ! e2e_verify "$final"; then
        e2e_require mmdebstrap:mmdebstrap
        e2e_wait_for_quiet_cpu
        local tmp
        tmp="$(e2e_mktemp debian-base)"
        mkdir -p "$tmp/out"
        mapfile -t args < <(e2e_mmdebstrap_args "$tmp/out/rootfs.tar")
        e2e_log "making the test images' Debian root filesystem (mmdebstrap, about 2 minutes) ..."
        local started=$SECONDS
        TMPDIR="$tmp" e2e_run_logged "mmdebstrap" "$E2E_CACHE/logs/debian-base-$key.log" mmdebstrap "${args[@]}"
        e2e_commit debian-base "$key" "$tmp/out" "$final" \
            "$(jq -n --arg c "mmdebstrap ${args[*]}" '{command: $c}')"
        e2e_log "debian-base: root filesystem made in $((SECONDS - started)) s, $(du -h "$final/rootfs.tar" | cut -f1)"
    fi
    e2e_log "importing the root filesystem as $E2E_BASE_TAG"
    docker import --change "LABEL $E2E_LABEL_KEY=$key" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$final/rootfs.tar" "$E2E_BASE_TAG" >/dev/null
    # Older bases (another package list): their tags go; images still built on them keep them.
    local old
    for old in $(docker images --format '{{.Repository}}:{{.Tag}}' localkube-e2e/debian-base); do
        [[ "$old" == "$E2E_BASE_TAG" ]] || docker image rm "$old" >/dev/null 2>&1 || true
    done
}

# Alpine's minirootfs, the base of upstream's agnhost and so of the kitten and nautilus images
# that are built on it: the ImageVolume spec mounts the kitten image and reads "Alpine Linux" from
# its os-release. No Alpine mirror is reachable here; the Go module proxy serves the commit of
# Alpine's docker-alpine repository that holds the 3.24.1 tarballs, checked by go against the
# checksum database, and each tarball is checked again against the sha256 pinned here.
E2E_ALPINE_MODULE="github.com/alpinelinux/docker-alpine"
E2E_ALPINE_COMMIT="v0.0.0-20260614000913-398ff0c866d2"
E2E_ALPINE_VERSION="3.24.1"
declare -A E2E_ALPINE_SHA256=(
    [amd64]=41f73e3cf5fa919b8aa5ca6b30dc48f0da2720776d7423e2a7748211456fe081
    [arm64]=f55a90f69052c5bd6f92cb09a8f47065970830b194c917a006fb94028e721259
)

# Imports Alpine's root filesystem into Docker (once); sets E2E_ALPINE_TAG.
e2e_alpine_base() {
    [[ -n "${E2E_ALPINE_TAG:-}" ]] && return 0
    local arch want
    case "$E2E_GOARCH" in amd64) arch=x86_64 ;; arm64) arch=aarch64 ;; *) arch="" ;; esac
    want="${E2E_ALPINE_SHA256[$E2E_GOARCH]:-}"
    [[ -n "$arch" && -n "$want" ]] || e2e_die "no Alpine root filesystem is pinned for linux/$E2E_GOARCH (scripts/lib/e2e-common.sh E2E_ALPINE_SHA256)"
    E2E_ALPINE_TAG="localkube-e2e/alpine-base:$E2E_ALPINE_VERSION-${want:0:12}"
    if [[ "$(e2e_image_key "$E2E_ALPINE_TAG")" == "$want" ]]; then
        e2e_log "alpine-base: up to date ($E2E_ALPINE_TAG)"
        return 0
    fi
    local dir tarball got
    # Outside any module, so the wrapper module's go.mod and go.sum stay as they are.
    dir="$(cd / && GOFLAGS="" GOWORK=off GOTOOLCHAIN=local GO111MODULE=on \
        go mod download -json "$E2E_ALPINE_MODULE@$E2E_ALPINE_COMMIT" | jq -r .Dir)"
    tarball="$dir/$arch/alpine-minirootfs-$E2E_ALPINE_VERSION-$arch.tar.gz"
    [[ -f "$tarball" ]] || e2e_die "the Go module proxy's $E2E_ALPINE_MODULE@$E2E_ALPINE_COMMIT has no $arch/$(basename "$tarball")"
    got="$(e2e_sha256 <"$tarball")"
    [[ "$got" == "$want" ]] || e2e_die "$tarball has sha256 $got, not the pinned $want"
    e2e_log "importing Alpine $E2E_ALPINE_VERSION's root filesystem as $E2E_ALPINE_TAG"
    docker import --change "LABEL $E2E_LABEL_KEY=$want" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/sh"]' "$tarball" "$E2E_ALPINE_TAG" >/dev/null
}

# The build key an image carries, or nothing when it is absent.
e2e_image_key() {
    docker image inspect --format "{{ index .Config.Labels \"$E2E_LABEL_KEY\" }}" "$1" 2>/dev/null || true
}

# Hashes of the files of an image folder (README.md is documentation and changes no key).
e2e_dir_digest() {
    (cd "$1" && find . -type f ! -name README.md -print0 | LC_ALL=C sort -z |
        xargs -0 -r sha256sum | e2e_sha256)
}

# The tag our build of an image carries besides upstream's names.
e2e_local_tag() { printf 'localkube-e2e/%s:%s\n' "$1" "$E2E_VERSION"; }

# Builds one test image (a folder of tests/conformance/images/) unless an image with its key is
# there, then tags it with every name e2e.test uses for it. Sets E2E_BUILT_NAMES+=(names).
E2E_BUILT_NAMES=()
declare -A E2E_IMAGE_KEYS=()
e2e_build_image() {
    local short="$1"
    [[ -n "${E2E_IMAGE_KEYS[$short]:-}" ]] && return 0
    local dir="$E2E_IMAGES_DIR/$short"
    [[ -f "$dir/Dockerfile" || -f "$dir/tag-of" ]] || e2e_die "no image definition tests/conformance/images/$short (known: ${E2E_ALL_IMAGES[*]})"
    local names
    mapfile -t names < <(e2e_image_names "$short")
    ((${#names[@]} > 0)) || e2e_die "e2e.test $E2E_VERSION names no image '$short' (see e2e.test --list-images)"
    local started=$SECONDS
    if [[ -f "$dir/tag-of" ]]; then
        # An image localkube already builds for the cluster, under upstream's name.
        local component source
        component="$(sed -e 's/#.*//' "$dir/tag-of" | tr -d ' \n')"
        source="localkube/$component:$E2E_VERSION"
        docker image inspect "$source" >/dev/null 2>&1 ||
            e2e_die "$source is missing: run \`localkube images build --kubernetes-version $E2E_VERSION\`"
        local n
        for n in "${names[@]}"; do docker tag "$source" "$n"; done
        E2E_IMAGE_KEYS[$short]="$(e2e_image_key "$source")"
        E2E_BUILT_NAMES+=("${names[@]}")
        e2e_log "$short: ${names[*]} = $source"
        return 0
    fi

    # What the image is made of: its folder, its binaries, its base, files read from the module.
    local from="" bins=() extra=() spec
    spec="$(sed -n 's/^# localkube-e2e: //p' "$dir/Dockerfile")"
    local word
    for word in $spec; do
        case "$word" in
            from=debian-base) e2e_debian_base; from="$E2E_BASE_TAG" ;;
            from=alpine-base) e2e_alpine_base; from="$E2E_ALPINE_TAG" ;;
            from=*) e2e_build_image "${word#from=}"; from="$(e2e_local_tag "${word#from=}")" ;;
            bin=*) bins+=("${word#bin=}") ;;
            module=*) extra+=("${word#module=}") ;;
            coredns) extra+=(coredns) ;;
            busybox) extra+=(busybox) ;;
        esac
    done
    local keyparts=("$E2E_RECIPE" "image" "$short" "$E2E_VERSION" "$(e2e_dir_digest "$dir")" "from=$from")
    [[ -n "$from" ]] && keyparts+=("$(e2e_image_key "$from")")
    local bin art bindirs=()
    for bin in "${bins[@]+"${bins[@]}"}"; do
        art="$(e2e_test_binary "$bin")"
        bindirs+=("$art")
        keyparts+=("bin=$bin" "$(jq -r .key "$art/manifest.json")")
    done
    local x coredns_bin="" busybox_bin=""
    for x in "${extra[@]+"${extra[@]}"}"; do
        if [[ $x == coredns ]]; then
            coredns_bin="$(e2e_coredns)"
            keyparts+=("coredns" "$(e2e_sha256 <"$coredns_bin")")
        elif [[ $x == busybox ]]; then
            busybox_bin="$(e2e_busybox)"
            keyparts+=("busybox" "$(e2e_sha256 <"$busybox_bin")")
        else
            keyparts+=("$x" "$(cd "$E2E_K8S_DIR" && find "$x" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | e2e_sha256)")
        fi
    done
    local key local_tag built="up to date"
    key="$(printf '%s\n' "${keyparts[@]}" | e2e_sha256)"
    local_tag="$(e2e_local_tag "$short")"
    if [[ "$(e2e_image_key "$local_tag")" != "$key" ]]; then
        local ctx
        ctx="$(e2e_mktemp "image-$short")"
        cp -a "$dir/." "$ctx/"
        mkdir -p "$ctx/bin" "$ctx/module"
        local i=0
        for bin in "${bins[@]+"${bins[@]}"}"; do
            cp "${bindirs[$i]}/$bin" "$ctx/bin/$bin"
            i=$((i + 1))
        done
        for x in "${extra[@]+"${extra[@]}"}"; do
            if [[ $x == coredns ]]; then
                cp "$coredns_bin" "$ctx/bin/coredns"
            elif [[ $x == busybox ]]; then
                cp "$busybox_bin" "$ctx/bin/busybox"
            else
                mkdir -p "$ctx/module/$(dirname "$x")"
                cp -a "$E2E_K8S_DIR/$x" "$ctx/module/$x"
                chmod -R u+w "$ctx/module"
            fi
        done
        e2e_log "building the image $short ($local_tag) ..."
        started=$SECONDS
        local args=(build --label "$E2E_LABEL_KEY=$key" --label "io.localkube.component=e2e-$short"
            --label "io.localkube.kubernetes-version=$E2E_VERSION" -t "$local_tag")
        [[ -n "$from" ]] && args+=(--build-arg "BASE_IMAGE=$from")
        local old_id
        old_id="$(docker image inspect --format '{{.Id}}' "$local_tag" 2>/dev/null || true)"
        DOCKER_BUILDKIT=0 e2e_run_logged "docker build of $short" "$E2E_CACHE/logs/image-$short-$key.log" \
            docker "${args[@]}" "$ctx"
        rm -rf "$ctx"
        built="built in $((SECONDS - started)) s"
        # The build it replaces, once no name is left on it (a container may still use it: then it stays).
        if [[ -n "$old_id" ]]; then
            local n
            for n in "${names[@]}"; do docker tag "$local_tag" "$n"; done
            if [[ "$(docker image inspect --format '{{len .RepoTags}}' "$old_id" 2>/dev/null)" == 0 ]]; then
                docker image rm "$old_id" >/dev/null 2>&1 || true
            fi
        fi
    fi
    local n
    for n in "${names[@]}"; do docker tag "$local_tag" "$n"; done
    E2E_IMAGE_KEYS[$short]="$key"
    E2E_BUILT_NAMES+=("${names[@]}")
    local size
    size="$(docker image inspect --format '{{.Size}}' "$local_tag")"
    e2e_log "$short: ${names[*]} ($((size / 1000000)) MB, $built)"
}

# A CoreDNS binary of the version localkube pairs with $E2E_VERSION: from localkube's cache (the
# coredns artifact, verified), else copied out of the localkube/coredns image.
e2e_coredns() {
    local want m dir
    want="$(jq -r .coredns_version "$E2E_RESOLUTION")"
    for m in "$LK_CACHE"/artifacts/coredns/*/manifest.json; do
        [[ -f "$m" ]] || continue
        dir="$(dirname "$m")"
        if jq -r '.inputs["go.mod"] // ""' "$m" | grep -qx "require github.com/coredns/coredns $want" &&
            e2e_verify "$dir"; then
            printf '%s\n' "$dir/coredns"
            return 0
        fi
    done
    local image="localkube/coredns:$E2E_VERSION" out="$E2E_CACHE/$E2E_VERSION/coredns-from-image"
    docker image inspect "$image" >/dev/null 2>&1 ||
        e2e_die "no CoreDNS $want in localkube's cache and no $image: run \`localkube images build --kubernetes-version $E2E_VERSION\`"
    local cid
    mkdir -p "$out"
    cid="$(docker create "$image")"
    docker cp "$cid:/coredns" "$out/coredns.new" >/dev/null
    docker rm "$cid" >/dev/null
    mv "$out/coredns.new" "$out/coredns"
    printf '%s\n' "$out/coredns"
}

# BusyBox for the busybox test image, compiled here from upstream's release tarball the way Docker
# Hub's busybox image (upstream's base) is built: `make defconfig` plus that build's few changes,
# linked against glibc. Debian's busybox package cannot stand in: Debian reverts upstream's ash
# change that keeps environment variables whose names are not shell identifiers (`data-1`), which
# the Secret/ConfigMap environment specs read back with `sh -c env`. The tarball is Debian's copy
# of upstream's (its orig.tar is byte for byte the release), checked against upstream's sha256.
E2E_BUSYBOX_VERSION="1.37.0"
E2E_BUSYBOX_SHA256="3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4"
# Docker Hub's changes to defconfig (name=value to set, bare name to unset): ar with archive
# creation, no UTF-8 input width (their issue 13), inotifyd, and no `sync -d/-f`.
E2E_BUSYBOX_CONFIG=(CONFIG_AR=y CONFIG_FEATURE_AR_CREATE=y CONFIG_FEATURE_AR_LONG_FILENAMES=y
    CONFIG_LAST_SUPPORTED_WCHAR=0 CONFIG_INOTIFYD=y CONFIG_FEATURE_SYNC_FANCY)

# Prints the path of the compiled busybox (cached by its inputs like the Go artifacts).
e2e_busybox() {
    e2e_require gcc:gcc make:make bzip2:bzip2
    local config=("${E2E_BUSYBOX_CONFIG[@]}")
    # Upstream's SHA-1 acceleration is x86 code that 1.37.0 does not guard on other
    # architectures (it fails to compile there): off where it would not run anyway.
    [[ "$E2E_GOARCH" == amd64 ]] || config+=(CONFIG_SHA1_HWACCEL CONFIG_SHA256_HWACCEL)
    local key
    key="$(printf '%s\n' "$E2E_RECIPE" busybox "$E2E_BUSYBOX_VERSION" "$E2E_BUSYBOX_SHA256" \
        "${config[@]}" "$(gcc -dumpfullversion)" "$(ldd --version | head -n1)" "linux/$E2E_GOARCH" | e2e_sha256)"
    local final="$E2E_CACHE/busybox/$key"
    if e2e_verify "$final"; then
        e2e_log "busybox: up to date ($final)" >&2
        printf '%s\n' "$final/busybox"
        return 0
    fi
    e2e_wait_for_quiet_cpu >&2
    local tmp tarball="busybox_${E2E_BUSYBOX_VERSION}.orig.tar.bz2"
    tmp="$(e2e_mktemp busybox)"
    e2e_log "busybox: downloading $tarball from the Debian archive" >&2
    curl -fsSL --retry 3 -o "$tmp/$tarball" "$E2E_DEBIAN_MIRROR/pool/main/b/busybox/$tarball" ||
        e2e_die "could not download $E2E_DEBIAN_MIRROR/pool/main/b/busybox/$tarball"
    [[ "$(e2e_sha256 <"$tmp/$tarball")" == "$E2E_BUSYBOX_SHA256" ]] ||
        e2e_die "$tarball does not have upstream's sha256 $E2E_BUSYBOX_SHA256"
    tar -xjf "$tmp/$tarball" -C "$tmp" || e2e_die "could not unpack $tarball"
    local src="$tmp/busybox-$E2E_BUSYBOX_VERSION" log="$E2E_CACHE/logs/busybox-$key"
    e2e_log "compiling busybox $E2E_BUSYBOX_VERSION ..." >&2
    local started=$SECONDS
    (
        set -e
        cd "$src"
        # The build date busybox prints is the tarball's, so the same inputs give the same binary.
        SOURCE_DATE_EPOCH="$(stat -c %Y "$src")"
        export SOURCE_DATE_EPOCH
        e2e_run_logged "busybox defconfig" "$log-defconfig.log" make defconfig
        local conf
        for conf in "${config[@]}"; do
            sed -i -e "/^${conf%%=*}=/d" -e "/^# ${conf%%=*} is not set\$/d" .config
            if [[ $conf == *=* ]]; then echo "$conf"; else echo "# $conf is not set"; fi >>.config
        done
        # Options a change brings in take their defaults (the empty answer).
        e2e_run_logged "busybox oldconfig" "$log-oldconfig.log" sh -c 'yes "" | make oldconfig'
        for conf in "${config[@]}"; do
            if [[ $conf == *=* ]]; then grep -qx "$conf" .config; else ! grep -q "^$conf=" .config; fi ||
                e2e_die "busybox's .config did not keep $conf"
        done
        e2e_run_logged "compiling busybox" "$log.log" nice -n 10 make -j "$(nproc)" busybox
    ) >&2 || exit 1
    mkdir -p "$tmp/out"
    cp "$src/busybox" "$tmp/out/busybox"
    cp "$src/.config" "$tmp/out/busybox.config"
    e2e_commit busybox "$key" "$tmp/out" "$final" \
        "$(jq -n --arg v "$E2E_BUSYBOX_VERSION" --arg s "$E2E_BUSYBOX_SHA256" --arg c "${config[*]}" \
            '{version: $v, tarball_sha256: $s, config: $c}')"
    rm -rf "$tmp"
    e2e_log "busybox: compiled in $((SECONDS - started)) s" >&2
    printf '%s\n' "$final/busybox"
}

# The Go binaries of the test images, built from the wrapper module like the components.
e2e_test_binary() {
    case "$1" in
        # agnhost's Makefile stamps its VERSION into main.Version (`agnhost --version`).
        agnhost) e2e_go_artifact agnhost build k8s.io/kubernetes/test/images/agnhost agnhost "$E2E_GO_TAGS" \
            "-X main.Version=$(tr -d ' \n' <"$E2E_K8S_DIR/test/images/agnhost/VERSION")" ;;
        nnp) e2e_go_artifact nnp build k8s.io/kubernetes/test/images/nonewprivs nnp "$E2E_GO_TAGS" ;;
        sample-apiserver) e2e_go_artifact sample-apiserver build k8s.io/sample-apiserver sample-apiserver "$E2E_GO_TAGS" ;;
        *) e2e_die "no recipe for the test binary $1" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Nodes

# The running node containers of a profile.
e2e_nodes() {
    docker ps --filter "label=io.localkube.profile=$1" --filter "label=io.localkube.role=node" \
        --format '{{.Names}}'
}

# Whether a node's containerd (namespace k8s.io) holds an image with this name and the same
# config (= Docker's image ID) as the host's.
e2e_node_has() {
    local node="$1" ref="$2" want digest body
    want="$(docker image inspect --format '{{.Id}}' "$ref")"
    digest="$(docker exec "$node" ctr -n k8s.io images ls "name==$ref" 2>/dev/null | awk 'NR == 2 { print $3 }')"
    [[ -n "$digest" ]] || return 1
    body="$(docker exec "$node" ctr -n k8s.io content get "$digest" 2>/dev/null)" || return 1
    if [[ "$(jq -r '.manifests | length? // 0' <<<"$body" 2>/dev/null)" != 0 ]]; then
        digest="$(jq -r '.manifests[0].digest' <<<"$body")"
        body="$(docker exec "$node" ctr -n k8s.io content get "$digest" 2>/dev/null)" || return 1
    fi
    [[ "$(jq -r '.config.digest // ""' <<<"$body" 2>/dev/null)" == "$want" ]]
}

# Loads images into every running node of a profile with `localkube image load`, skipping the
# ones every node already has.
e2e_load_images() {
    local profile="$1"
    shift
    local nodes
    mapfile -t nodes < <(e2e_nodes "$profile")
    ((${#nodes[@]} > 0)) || e2e_die "profile '$profile' has no running node: start it with \`localkube start -p $profile\`"
    local missing=() ref node
    for ref in "$@"; do
        for node in "${nodes[@]}"; do
            if ! e2e_node_has "$node" "$ref"; then
                missing+=("$ref")
                break
            fi
        done
    done
    if ((${#missing[@]} == 0)); then
        e2e_log "all ${#} test images are already in the nodes of '$profile'"
        return 0
    fi
    e2e_log "loading ${#missing[@]} image(s) into ${#nodes[@]} node(s) of '$profile': ${missing[*]}"
    local started=$SECONDS
    e2e_localkube -p "$profile" image load "${missing[@]}"
    e2e_log "loaded in $((SECONDS - started)) s"
}

# ---------------------------------------------------------------------------------------------
# Certification results

# The facts of a run that its results folder states: written into the report folder as run.json
# before the specs run (the durations and the end are added after). $1 report folder, $2 profile,
# $3 version, $4 ginkgo processes of the parallel part, $5 mode.
e2e_run_facts() {
    local dir="$1" profile="$2" version="$3" procs="$4" mode="$5" nodes node runtime cgroup lk
    mapfile -t nodes < <(e2e_nodes "$profile")
    node="${nodes[0]:-}"
    runtime="$(docker exec "$node" containerd --version 2>/dev/null | awk '{print "containerd " $3}' || true)"
    runtime+=", $(docker exec "$node" runc --version 2>/dev/null | awk 'NR == 1 {print "runc " $3}' || true)"
    case "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" in cgroup2fs) cgroup=v2 ;; *) cgroup=v1 ;; esac
    lk="$(e2e_localkube version 2>/dev/null | head -n1 || true)"
    jq -n --arg profile "$profile" --arg version "$version" --argjson procs "$procs" --arg mode "$mode" \
        --argjson nodes "${#nodes[@]}" --arg runtime "$runtime" --arg cgroup "$cgroup" --arg localkube "$lk" \
        --arg started "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg cores "$(nproc)" \
        --arg host "$(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), Docker $(docker version --format '{{.Server.Version}}' 2>/dev/null)" \
        '{profile: $profile, kubernetes: $version, mode: $mode, ginkgo_processes: $procs, nodes: $nodes,
          runtime: $runtime, cgroup: $cgroup, localkube: $localkube, started: $started,
          cores: ($cores | tonumber), host: $host, parts: {}}' >"$dir/run.json"
}

# Adds one part's duration (seconds) to run.json.
e2e_run_part_done() {
    local dir="$1" part="$2" seconds="$3" tmp
    tmp="$(jq --arg p "$part" --argjson s "$seconds" --arg e "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        '.parts[$p] = $s | .ended = $e' "$dir/run.json")"
    printf '%s\n' "$tmp" >"$dir/run.json"
}

# Writes a run's results as a cncf/k8s-conformance submission: $2/vX.Y/localkube/ with
# PRODUCT.yaml, README.md (how to reproduce it from a fresh machine), e2e.log (the output of
# both parts, parallel then [Serial]) and junit_01.xml (both parts' reports as one: every spec
# once, with the result of the part that ran it). $1 is the run's report folder.
e2e_certify() {
    local report="$1" root="$2" version minor out
    version="$(jq -r .kubernetes "$report/run.json")"
    minor="$(sed 's/^\(v[0-9]*\.[0-9]*\).*/\1/' <<<"$version")"
    out="$root/$minor/localkube"
    mkdir -p "$out"
    local part
    : >"$out/e2e.log"
    for part in parallel serial; do
        [[ -f "$report/$part/ginkgo.log" ]] || continue
        {
            printf '# localkube conformance run, part "%s" (%s)\n' "$part" \
                "$([[ $part == parallel ]] && echo "specs not [Serial], $(jq -r .ginkgo_processes "$report/run.json") ginkgo processes" || echo "[Serial] specs, one process")"
            cat "$report/$part/ginkgo.log"
        } >>"$out/e2e.log"
    done
    python3 - "$report" "$out" "$E2E_REPO_ROOT" <<'PY'
import json, sys, xml.etree.ElementTree as ET
report, out, repo = sys.argv[1:4]
run = json.load(open(f"{report}/run.json"))
# One report: the parallel part's cases, each replaced by the serial part's where that ran it.
def ran(case):
    """Whether the part ran the spec (a skip with a reason is the spec's own)."""
    if case.get("status") not in ("skipped", "pending"):
        return True
    skipped = case.find("skipped")
    return skipped is not None and skipped.get("message", "").strip() not in ("", "skipped")
cases, order = {}, []
for part in ("parallel", "serial"):
    try:
        root = ET.parse(f"{report}/{part}/junit_01.xml").getroot()
    except FileNotFoundError:
        continue
    for case in root.iter("testcase"):
        name = case.get("name", "")
        if name not in cases:
            order.append(name)
            cases[name] = case
        elif name.startswith("[It]") and ran(case):
            cases[name] = case
suite = ET.Element("testsuite", name="Kubernetes e2e suite", package="localkube")
counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "disabled": 0}
for name in order:
    case = cases[name]
    suite.append(case)
    counts["tests"] += 1
    if case.find("failure") is not None:
        counts["failures"] += 1
    elif case.find("error") is not None:
        counts["errors"] += 1
    elif case.find("skipped") is not None or case.get("status") in ("skipped", "pending"):
        counts["skipped"] += 1
for k, v in counts.items():
    suite.set(k, str(v))
suites = ET.Element("testsuites", **{k: str(v) for k, v in counts.items() if k != "skipped"})
suites.append(suite)
ET.ElementTree(suites).write(f"{out}/junit_01.xml", encoding="utf-8", xml_declaration=True)

lk = run.get("localkube", "").split()
lk_version = lk[1] if len(lk) > 1 else "unknown"
with open(f"{out}/PRODUCT.yaml", "w") as f:
    f.write(f"""# What cncf/k8s-conformance asks of a submission (instructions.md). The URLs name where the
# project is published: fill them in where they are empty before submitting.
vendor: localkube
name: localkube
version: v{lk_version}
website_url: ""
repo_url: ""
documentation_url: ""
type: installer
description: 'localkube starts an upstream Kubernetes cluster on the local Docker engine, each component in its own container, built from upstream sources.'
""")
parts = run.get("parts", {})
nodes = run["nodes"]
with open(f"{out}/README.md", "w") as f:
    f.write(f"""# Conformance results for {run['kubernetes'][:run['kubernetes'].rfind('.')]}/localkube

localkube {lk_version}, Kubernetes {run['kubernetes']}, {nodes} node{'s' if nodes != 1 else ''}
({run['runtime']}, cgroup {run['cgroup']}), on {run['cores']} cores: {run['host']}.
Run from {run['started']} to {run.get('ended', '?')}: the parallel part took {parts.get('parallel', '?')} s
on {run['ginkgo_processes']} ginkgo processes, the [Serial] part {parts.get('serial', '?')} s on one.

## How to reproduce, from a fresh Debian 12 machine

Everything is built from upstream sources on the machine (Kubernetes and etcd from the Go
module proxy, the node's and most test images' root filesystem from Debian's packages, Alpine's
for the kitten and nautilus test images from Alpine's own tarball, which the Go module proxy
serves); nothing is pulled from a container registry.

    git clone <localkube's repository> localkube && cd localkube
    sudo scripts/setup.sh                        # Docker and the Debian packages the builds use
    cargo build --release --locked
    target/release/localkube start -p conformance --kubernetes-version {run['kubernetes']} --nodes {nodes}
    scripts/conformance.sh -p conformance --certify
    target/release/localkube delete -p conformance

`scripts/conformance.sh --certify` compiles `e2e.test` and `ginkgo` at the cluster's version
(the `k8s.io/kubernetes` module, as the components are), builds the test images under the names
`e2e.test --list-images` prints, loads them into the nodes and stores them in the profile's
registry addon (the nodes' mirror for registry.k8s.io, for the specs that pull with
`imagePullPolicy: Always`), then runs every `[Conformance]` spec with
`--provider=skeleton`: first those that are not `[Serial]` on {run['ginkgo_processes']} processes, then the
`[Serial]` ones (the `[Disruptive]` ones included) on one, with no skip pattern. It writes this
folder: `e2e.log` is the output of both parts, parallel first; `junit_01.xml` holds both parts'
reports as one, each spec once.
""")
PY
    e2e_log "certification results: $out"
}
