# shellcheck shell=bash
# Docker Engine built from its Go module and run as a second daemon (sourced, not run), for
# scripts/check-docker28.sh and scripts/check-docker29.sh, with scripts/lib/engine-check.sh.
#
#   engine_build MODULE MODVERSION VERSION   builds dockerd and docker-proxy once per version
#                                            into $CACHE/docker-engine/VERSION; sets ENGINE
#   dockerd_start FEATURES / dockerd_stop    the daemon of one check run, on $D
#
# MODULE is github.com/docker/docker (Docker Engine up to 28, tagged vX.Y.Z+incompatible, its
# dependencies pinned by vendor.mod) or github.com/moby/moby/v2 (Docker Engine 29 on, a Go
# module of its own, tagged v2.0.0-beta.N: see check-docker29.sh for how a beta maps to a
# release). VERSION is the Docker Engine release (v28.5.2, v29.9.0), written into the binary.
# Needs CACHE (the localkube cache) and WORK (a scratch folder); say() for progress.

# $1 module, $2 module version, $3 Docker Engine version; sets ENGINE.
engine_build() {
	local module=$1 modversion=$2 version=$3 src build t0
	ENGINE=$CACHE/docker-engine/$version
	[[ -x $ENGINE/dockerd ]] && return 0
	say "building dockerd $version ($module@$modversion) from the Go module proxy"
	t0=$(date +%s)
	src=$(GOFLAGS=-mod=mod go mod download -json "$module@$modversion" |
		sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	[[ -n $src ]] || { echo "the Go module proxy does not serve $module@$modversion" >&2; return 1; }
	build=$WORK/src-$version
	rm -rf "$build" && cp -r "$src" "$build" && chmod -R u+w "$build"
	if [[ -f $build/vendor.mod ]]; then
		# Before v29 moby is not a Go module: vendor.mod and vendor.sum are its go.mod and
		# go.sum, and the module zip carries no vendor/ tree, so the dependencies come from the
		# proxy at those pins.
		cp "$build/vendor.mod" "$build/go.mod"
		cp "$build/vendor.sum" "$build/go.sum"
	fi
	rm -rf "$build/vendor"
	mkdir -p "$ENGINE.tmp"
	# No cgo: btrfs and disk quotas need C headers these checks do not need.
	(cd "$build" && CGO_ENABLED=0 GOFLAGS=-mod=mod nice -n 15 go build -trimpath \
		-tags 'exclude_graphdriver_btrfs exclude_disk_quota' \
		-ldflags "-X $module/dockerversion.Version=${version#v} -X $module/dockerversion.GitCommit=module-proxy" \
		-o "$ENGINE.tmp/" ./cmd/dockerd ./cmd/docker-proxy) || return 1
	rm -rf "$ENGINE" && mv "$ENGINE.tmp" "$ENGINE" && rm -rf "$build"
	say "dockerd $version built in $(($(date +%s) - t0)) s"
}

# Starts the daemon built above for one run of the checks, everything of it under $D: socket,
# data root, exec root (its containerd's state and sockets are under those two). It runs in the
# network namespace engine_isolate made, so its defaults stand: its own docker0, iptables
# chains, address pools and docker-proxy. $1: the daemon.json "features" object (the image
# store). Under a name of its own (dockerd-29), so a process list, or anyone's
# `pkill -x dockerd`, tells it from the host's daemon.
DAEMON_PID=
dockerd_start() {
	local name
	name=dockerd-$(cut -d. -f1 <<<"${VERSION#v}")
	printf '{"features": %s}\n' "$1" >"$D/daemon.json"
	[[ -x $ENGINE/$name ]] || cp "$ENGINE/dockerd" "$ENGINE/$name"
	PATH=$ENGINE:$PATH nohup "$ENGINE/$name" --config-file "$D/daemon.json" \
		--host "$DOCKER_HOST" --data-root "$D/data" --exec-root "$D/exec" \
		--pidfile "$D/docker.pid" >>"$D/dockerd.log" 2>&1 &
	DAEMON_PID=$!
	wait_for 60 docker info >/dev/null
}
dockerd_stop() {
	[[ -n $DAEMON_PID ]] || return 0
	kill "$DAEMON_PID" 2>/dev/null || true
	wait_for 60 bash -c "! kill -0 $DAEMON_PID 2>/dev/null" || kill -9 "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}

# containerd, its runc shim and runc beside dockerd (it finds them on PATH), taken from the node
# image localkube built in the host's Docker: containerd 2.3 and runc 1.5, static. Docker 29
# gives every container a time namespace where the kernel has them, which Debian 12's runc
# 1.1.5 does not know ("namespace {"time" ""} does not exist"); Docker's own packages ship
# containerd 2.3 and runc 1.5 with 29.8 (its Dockerfile's pins: v2.3.5, v1.5.1).
engine_runtime_from_node_image() {
	local image id f
	[[ -x $ENGINE/runc && -x $ENGINE/containerd && -x $ENGINE/containerd-shim-runc-v2 ]] && return 0
	image=$(env -u DOCKER_HOST docker images localkube/node --format '{{.Repository}}:{{.Tag}}' | head -n 1)
	[[ -n $image ]] || { echo "no localkube/node image in the host's Docker: run \`localkube images build\` first" >&2; return 1; }
	id=$(env -u DOCKER_HOST docker create "$image")
	for f in containerd containerd-shim-runc-v2 runc; do
		env -u DOCKER_HOST docker cp "$id:/usr/local/bin/$f" "$ENGINE/$f" || break
	done
	env -u DOCKER_HOST docker rm "$id" >/dev/null
	"$ENGINE/runc" --version | head -n 1 && "$ENGINE/containerd" --version
}
