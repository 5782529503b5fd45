# shellcheck shell=bash
# The checks localkube runs against a container engine other than the host's own daemon
# (sourced, not run): scripts/check-docker28.sh, scripts/check-docker29.sh and
# scripts/check-podman.sh give it a way to start and stop their engine, and it runs the same
# list against each: images load, start with 2 nodes, `image load` (single-platform, and
# multi-platform where the store keeps it), a LoadBalancer answering on loopback, images
# save/load, stop/start with objects kept, an engine restart, delete. Each check prints its time.
#
# Isolation. The engine under test runs in a network namespace of its own, made for the run and
# deleted after it (engine_isolate): its default bridge, its iptables chains and its address
# pools are that namespace's, never the host's docker0, chains or routes, so it runs with its
# defaults (iptables on) and nothing of the host daemon's can be touched. Its socket, data root
# and exec root are folders of the run. The localkube commands and curl run in the same
# namespace, where the engine publishes its ports on 127.0.0.1.
#
# The caller sets NAME (a short word: docker29), PROFILE, BIN, ROOT, WORK and defines
#   engine_start   starts the engine on $D (the run's folder), answering at $DOCKER_HOST
#   engine_stop    stops it, its containers left as an engine restart leaves them
# then calls engine_isolate "$@" first thing, and engine_run_checks LABEL once per variant.

say() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Runs the calling script again inside a new network namespace (loopback only) and a mount
# namespace of its own, then deletes the network namespace. `ip netns exec` would do the first
# half, but it mounts a fresh /sys without the cgroup hierarchy under it, and runc, crun and
# dockerd then find no cgroups; so the host's /sys/fs/cgroup is bound back over the new /sys.
# The mount namespace is a slave of the host's: mounts the engine makes (overlays, network
# namespaces) stay in it and go with it. An empty /run/containerd there: dockerd adopts a
# containerd whose socket it finds there, and must start its own instead.
engine_isolate() {
	[[ -n ${LOCALKUBE_CHECK_NETNS:-} ]] && return 0
	local ns=lk-check-$NAME-$$ rc hold
	ip netns add "$ns" || { echo "cannot make a network namespace (ip netns add $ns): run as root" >&2; exit 1; }
	ip netns exec "$ns" ip link set lo up
	hold=$(mktemp -d "/tmp/lk-check-$NAME-cgroup.XXXXXX")
	# Deleted however this script ends (Ctrl-C included); the run inside stops its engine itself.
	# shellcheck disable=SC2064
	trap "ip netns del '$ns' 2>/dev/null; rmdir '$hold' 2>/dev/null" EXIT
	set +e
	LOCALKUBE_CHECK_NETNS=$ns unshare -m --propagation slave bash -c '
		set -e
		hold=$1 ns=$2
		shift 2
		mount --rbind /sys/fs/cgroup "$hold"
		exec nsenter --net="/run/netns/$ns" bash -c "
			set -e
			mount -t sysfs sysfs /sys
			mount --rbind \"$hold\" /sys/fs/cgroup
			mkdir -p /run/containerd
			mount -t tmpfs -o mode=0711 tmpfs /run/containerd
			exec \"\$@\"" bash "$@"' bash "$hold" "$ns" "$0" "$@"
	rc=$?
	exit "$rc"
}

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
	printf '%s %7s s  [%s] %s\n' "$r" "$(since "$t0")" "$LABEL" "$name"
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

lk() { "$BIN" -p "$PROFILE" "$@"; }
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
# Images of our own, from the node's Debian base the engine got from the archive: one
# single-platform; one two-platform index with every platform's content; one whose arm64
# content is missing, as a pull of a multi-platform image leaves it on the containerd image
# store (kind #3795). Each must reach both nodes.
base_image() { echo "localkube/storage-helper:$(k get nodes -o jsonpath='{.items[0].status.nodeInfo.kubeletVersion}')"; }
# crictl's whole output first: `crictl images | grep -q` fails under pipefail when grep stops
# reading at its match and crictl then dies of SIGPIPE.
in_nodes() {
	local n listed
	for n in "$PROFILE" "$PROFILE-m02"; do
		listed=$(docker exec "$n" crictl images) && grep -q "$1" <<<"$listed" || return 1
	done
}
load_single() {
	docker tag "$(base_image)" "$PROFILE/single:1" && lk image load "$PROFILE/single:1" && in_nodes "$PROFILE/single"
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
kept() { k get configmap keep -o jsonpath='{.data.kept}' | grep -qx yes; }
stop_start() { lk stop && lk start --keep-context && kept; }
restart_engine() { engine_stop && engine_start; }
after_restart() { wait_for 600 nodes_ready && kept && wait_for 300 lb_answers; }

# The whole list against one variant of the engine (LABEL: an image store, rootful...).
# MULTI_PLATFORM=1 where the engine keeps several platforms of an image (the containerd store).
engine_run_checks() {
	LABEL=$1
	D=$WORK/$LABEL
	LOG=$D/check.log
	rm -rf "$D" && mkdir -p "$D"
	export DOCKER_HOST=unix://$D/engine.sock
	# A home, cache and kubeconfig of this check's own: nothing of the user's is touched.
	export LOCALKUBE_HOME=$D/home LOCALKUBE_CACHE=$D/cache KUBECONFIG=$D/kubeconfig
	local t_all
	t_all=$(now)
	check "$ENGINE_DESCRIPTION answers" engine_start || return 0
	check "doctor" lk doctor --nodes 2
	check "images load" lk images load "$ARCHIVE" || { engine_stop; return 0; }
	check "start --nodes 2" lk start --nodes 2 --keep-context || { engine_stop; return 0; }
	check "both nodes Ready" wait_for 600 nodes_ready
	check "ConfigMap kept across what follows" k create configmap keep --from-literal=kept=yes
	check "image load (single-platform)" load_single
	check "image load again (single-platform): skipped" load_again "$PROFILE/single:1"
	if [[ ${MULTI_PLATFORM:-0} == 1 ]]; then
		check "image load (multi-platform, every platform's content)" load_multi "$PROFILE/multi:1"
		check "image load again (multi-platform): skipped" load_again "$PROFILE/multi:1"
		check "image load (multi-platform, arm64 content missing)" load_multi "$PROFILE/partial:1" --missing
		check "image load again (arm64 content missing): skipped" load_again "$PROFILE/partial:1"
	fi
	check "LoadBalancer answers on loopback" lb_service
	check "images save / load" save_load
	check "stop, start, objects kept" stop_start
	check "engine restart" restart_engine
	check "nodes Ready, objects, LoadBalancer after the restart" after_restart
	check "delete" lk delete
	engine_stop
	say "[$LABEL] all checks: $(since "$t_all") s"
}

# The images come from an `images save` archive of the host's Docker (made here when
# CHECK_ARCHIVE does not name one), so nothing is compiled twice. Made before engine_isolate,
# where the host's daemon answers.
engine_archive() {
	ARCHIVE=${CHECK_ARCHIVE:-$WORK/images.tar}
	[[ -f $ARCHIVE ]] && return 0
	say "saving the images to $ARCHIVE"
	env -u DOCKER_HOST "$BIN" images save "$ARCHIVE.tmp" && mv "$ARCHIVE.tmp" "$ARCHIVE"
}
