#!/usr/bin/env bash
# Checks localkube against Docker Engine 28, built here from its Go module
# (github.com/docker/docker v28.5.2+incompatible, dependencies at the versions its vendor.mod
# pins), run as a second daemon beside the system one: its own socket, data root, exec root,
# bridge range and address pool. Twice: with the classic image store and with the containerd
# image store (features.containerd-snapshotter). Against each, through DOCKER_HOST: start with
# 2 nodes, `image load` of a single- and a multi-platform image, a LoadBalancer Service,
# images save/load, stop/start, a dockerd restart, delete. Each check prints its time.
# Run by hand, never in CI.
#
#   scripts/check-docker28.sh [classic|containerd ...]    (default: both)
#
# The images come from an `images save` archive of the host's Docker (made here
# when CHECK_DOCKER28_ARCHIVE does not name one), so nothing is compiled twice.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LOCALKUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/localkube}
WORK=${CHECK_DOCKER28_WORK:-/tmp/localkube-docker28}
BIN=${LOCALKUBE_BIN:-$ROOT/target/debug/localkube}
VERSION=v28.5.2
MODULE=github.com/docker/docker
STORES=("$@")
((${#STORES[@]})) || STORES=(classic containerd)

say() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
mkdir -p "$WORK"

# --- The engine, built once per version ------------------------------------------------------
ENGINE=$CACHE/docker-engine/$VERSION
if [[ ! -x $ENGINE/dockerd ]]; then
	say "building dockerd $VERSION from the Go module proxy"
	t0=$(now)
	src=$(GOFLAGS=-mod=mod go mod download -json "$MODULE@$VERSION+incompatible" |
		sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	build=$WORK/src
	rm -rf "$build" && cp -r "$src" "$build" && chmod -R u+w "$build"
	# moby is not a Go module yet: vendor.mod and vendor.sum are its go.mod and go.sum, and the
	# module zip carries no vendor/ tree, so the dependencies come from the proxy at those pins.
	cp "$build/vendor.mod" "$build/go.mod"
	cp "$build/vendor.sum" "$build/go.sum"
	rm -rf "$build/vendor"
	mkdir -p "$ENGINE.tmp"
	# No cgo: btrfs and disk quotas need C headers this check does not need.
	(cd "$build" && CGO_ENABLED=0 GOFLAGS=-mod=mod nice -n 15 go build -trimpath \
		-tags 'exclude_graphdriver_btrfs exclude_disk_quota' \
		-ldflags "-X $MODULE/dockerversion.Version=${VERSION#v} -X $MODULE/dockerversion.GitCommit=module-proxy" \
		-o "$ENGINE.tmp/" ./cmd/dockerd ./cmd/docker-proxy)
	rm -rf "$ENGINE" && mv "$ENGINE.tmp" "$ENGINE" && rm -rf "$build"
	say "dockerd built in $(since "$t0") s"
fi
[[ ${1:-} == --build-only ]] && exit 0

[[ -x $BIN ]] || { echo "no localkube binary at $BIN: cargo build --locked first" >&2; exit 1; }
ARCHIVE=${CHECK_DOCKER28_ARCHIVE:-$WORK/images.tar}
if [[ ! -f $ARCHIVE ]]; then
	say "saving the images to $ARCHIVE"
	"$BIN" images save "$ARCHIVE.tmp" && mv "$ARCHIVE.tmp" "$ARCHIVE"
fi

# From here a failed check is counted, not fatal.
set +e
failed=0
check() {
	local name=$1 t0 r
	shift
	t0=$(now)
	echo "=== $name ($(date +%T))" >>"$LOG"
	if "$@" >>"$LOG" 2>&1; then r=PASS; else
		r=FAIL
		failed=$((failed + 1))
	fi
	printf '%s %7s s  [%s] %s\n' "$r" "$(since "$t0")" "$STORE" "$name"
	[[ $r == PASS ]] || { tail -n 25 "$LOG" | sed 's/^/    | /'; return 1; }
}
wait_for() {
	local seconds=$1 deadline
	shift
	deadline=$(($(date +%s) + seconds))
	until "$@"; do
		(($(date +%s) < deadline)) || { echo "gave up after ${seconds} s: $*"; return 1; }
		sleep 1
	done
}

DAEMON_PID=
# The second daemon's default bridge: an interface of its own. Left to itself it would take
# docker0 and readdress it (seen with --bip), and --bridge=none makes it delete docker0 (seen
# too): both break the system daemon's default network.
BRIDGE=lk-d28-br0
start_daemon() {
	# Its own everything, so the system daemon and its containers never see it: socket, data
	# root, exec root, containerd namespace, default bridge (on 10.214.0.0/24, outside
	# 172.30.0.0/16 of the profiles and 172.17.0.0/16 of the system daemon). No iptables: the host's
	# chains belong to the system daemon, and Docker 28 rearranges Docker 20.10's DOCKER-*
	# chains when it manages them (seen here: it moved docker0's rules into DOCKER-FORWARD);
	# published ports go through docker-proxy instead, and `allow_own_bridges` lets this
	# daemon's containers talk on their own bridge past the FORWARD policy.
	local features='{}'
	[[ $STORE == containerd ]] && features='{"containerd-snapshotter": true}'
	# No default-address-pools: with one set, dockerd deletes the interface named docker0 at
	# start whatever its own bridge is called (moby's daemon_unix.go, seen here). localkube
	# gives every network its subnet, so no pool is needed.
	cat >"$D/daemon.json" <<-JSON
		{"features": $features}
	JSON
	ip link show "$BRIDGE" >/dev/null 2>&1 || {
		ip link add "$BRIDGE" type bridge &&
			ip addr add 10.214.0.1/24 dev "$BRIDGE" && ip link set "$BRIDGE" up
	}
	# Under a name of its own, so a process list (or anyone's `pkill -x dockerd`) tells it from
	# the system daemon.
	[[ -x $ENGINE/dockerd-28 ]] || cp "$ENGINE/dockerd" "$ENGINE/dockerd-28"
	PATH=$ENGINE:$PATH nohup "$ENGINE/dockerd-28" --config-file "$D/daemon.json" \
		--host "unix://$D/docker.sock" --data-root "$D/data" --exec-root "$D/exec" \
		--pidfile "$D/docker.pid" --bridge="$BRIDGE" --iptables=false --ip6tables=false \
		--containerd-namespace "hostsd28-$STORE" --containerd-plugins-namespace "hostsd28-$STORE-plugins" \
		>>"$D/dockerd.log" 2>&1 &
	DAEMON_PID=$!
	wait_for 60 docker info >/dev/null
}
stop_daemon() {
	[[ -n $DAEMON_PID ]] || return 0
	kill "$DAEMON_PID" 2>/dev/null || true
	wait_for 60 bash -c "! kill -0 $DAEMON_PID 2>/dev/null" || kill -9 "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}

# With br_netfilter loaded, traffic between two containers on one bridge crosses the host's
# FORWARD chain, whose policy the system daemon set to DROP. One rule per bridge of this daemon,
# in the chain Docker leaves to users, accepts exactly that (in and out of the same bridge);
# every such rule carries a comment and is removed at the end.
RULE_TAG=localkube-check-docker28
allow_own_bridges() {
	local id br
	while sleep 1; do
		for id in $(docker network ls -q --filter driver=bridge 2>/dev/null); do
			br=$(docker network inspect -f '{{index .Options "com.docker.network.bridge.name"}}' "$id" 2>/dev/null) || continue
			[[ -n $br && $br != "<no value>" ]] || br=br-${id:0:12}
			iptables -w -C DOCKER-USER -i "$br" -o "$br" -m comment --comment "$RULE_TAG" -j ACCEPT 2>/dev/null ||
				iptables -w -I DOCKER-USER -i "$br" -o "$br" -m comment --comment "$RULE_TAG" -j ACCEPT
		done
	done
}
remove_own_rules() {
	iptables -w -S DOCKER-USER | grep -- "$RULE_TAG" | sed 's/^-A /-D /' |
		while read -r rule; do eval iptables -w "$rule"; done
}
GUARD_PID=
end_store() {
	stop_daemon
	[[ -z $GUARD_PID ]] || kill "$GUARD_PID" 2>/dev/null || true
	GUARD_PID=
	remove_own_rules
	ip link del "$BRIDGE" 2>/dev/null || true
}
trap end_store EXIT

lk() { "$BIN" -p hostsd28 "$@"; }
k() { lk kubectl -- "$@"; }
nodes_ready() { [[ $(k get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l) -ge 2 ]]; }
lb_answers() {
	local ip
	ip=$(k -n kube-system get svc health-lb -o jsonpath='{.status.loadBalancer.ingress[0].ip}') &&
		[[ $ip == 127.* ]] && curl -fsS --max-time 5 "http://$ip:8080/health" | grep -q '^OK'
}
lb_service() {
	k apply -f - <<-YAML
		apiVersion: v1
		kind: Service
		metadata: {name: health-lb, namespace: kube-system}
		spec:
		  type: LoadBalancer
		  selector: {k8s-app: kube-dns}
		  ports: [{port: 8080, targetPort: 8080}]
	YAML
	wait_for 300 lb_answers
}
# Images of our own, from the node's Debian base this daemon got from the archive: one
# single-platform; one two-platform index with every platform's content; one whose arm64
# content is missing, as a pull of a multi-platform image leaves it on the containerd image
# store (kind #3795). Each must reach both nodes.
base_image() { echo "localkube/storage-helper:$(k get nodes -o jsonpath='{.items[0].status.nodeInfo.kubeletVersion}')"; }
# crictl's whole output first: `crictl images | grep -q` fails under pipefail when grep stops
# reading at its match and crictl then dies of SIGPIPE.
in_nodes() {
	local n listed
	for n in hostsd28 hostsd28-m02; do
		listed=$(docker exec "$n" crictl images) && grep -q "$1" <<<"$listed" || return 1
	done
}
load_single() {
	docker tag "$(base_image)" hostsd28/single:1 && lk image load hostsd28/single:1 && in_nodes hostsd28/single
}
load_multi() {
	local name=$1
	shift
	docker save "$(base_image)" -o "$D/base.tar" &&
		python3 "$ROOT/scripts/multi-platform-image.py" "$D/base.tar" "$name" "$D/multi.tar" "$@" &&
		docker load -i "$D/multi.tar" &&
		docker image inspect "$name" -f '{{.Id}} {{.Architecture}}' &&
		lk image load "$name" && in_nodes "${name%%:*}"
}
# A second load of the same image copies nothing: each node says it holds it already.
load_again() {
	local out
	out=$(lk image load "$1" 2>&1)
	echo "$out"
	[[ $(grep -c 'already holds' <<<"$out") -eq 2 ]]
}
save_load() { lk images save "$D/saved.tar" && lk images load "$D/saved.tar" && rm -f "$D/saved.tar"; }
stop_start() { lk stop && lk start --keep-context && kept; }
restart_daemon() { stop_daemon && start_daemon; }
after_restart() { wait_for 600 nodes_ready && kept && wait_for 300 lb_answers; }
kept() { k get configmap keep -o jsonpath='{.data.kept}' | grep -qx yes; }

for STORE in "${STORES[@]}"; do
	D=$WORK/$STORE
	LOG=$D/check.log
	rm -rf "$D" && mkdir -p "$D"
	export DOCKER_HOST=unix://$D/docker.sock
	# A home, cache and kubeconfig of this check's own: nothing of the user's is touched.
	export LOCALKUBE_HOME=$D/home LOCALKUBE_CACHE=$D/cache KUBECONFIG=$D/kubeconfig
	T_ALL=$(now)
	check "dockerd $VERSION ($STORE image store) answers" start_daemon || continue
	allow_own_bridges &
	GUARD_PID=$!
	check "doctor" lk doctor --nodes 2
	check "images load" lk images load "$ARCHIVE" || { end_store; continue; }
	check "start --nodes 2" lk start --nodes 2 --keep-context || { end_store; continue; }
	check "both nodes Ready" wait_for 600 nodes_ready
	check "ConfigMap kept across what follows" k create configmap keep --from-literal=kept=yes
	check "image load (single-platform)" load_single
	check "image load again (single-platform): skipped" load_again hostsd28/single:1
	# The classic store keeps one platform of an image: multi-platform is the containerd store's.
	if [[ $STORE == containerd ]]; then
		check "image load (multi-platform, every platform's content)" load_multi hostsd28/multi:1
		check "image load again (multi-platform): skipped" load_again hostsd28/multi:1
		check "image load (multi-platform, arm64 content missing)" load_multi hostsd28/partial:1 --missing
		check "image load again (arm64 content missing): skipped" load_again hostsd28/partial:1
	fi
	check "LoadBalancer answers on loopback" lb_service
	check "images save / load" save_load
	check "stop, start, objects kept" stop_start
	check "dockerd restart" restart_daemon
	check "nodes Ready, objects, LoadBalancer after the restart" after_restart
	check "delete" lk delete
	end_store
	# The daemon's images and volumes go with it: the next store starts from nothing, and the
	# disk gets back gigabytes. Its host network's namespace stays bind-mounted in its exec root.
	umount "$D"/exec/netns/* 2>/dev/null
	rm -rf "$D/data" "$D/exec"
	say "[$STORE] all checks: $(since "$T_ALL") s"
done
echo "Docker 28 checks: $failed failed"
((failed == 0))
