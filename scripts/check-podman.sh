#!/usr/bin/env bash
# Checks Podman's Docker-compatible API (`podman system service`, rootful) against what
# localkube's nodes rely on, and that localkube refuses it with the reason. Podman runs in a
# network namespace of its own (scripts/lib/engine-check.sh), with its storage, run root,
# network configuration and events under this run's folder: nothing of the host's Docker or of
# a Podman the host may have is touched. Run by hand, as root, never in CI.
#
#   scripts/check-podman.sh        (needs Debian's podman: sudo apt-get install podman)
#
# Each check drives Podman through its Docker API with the docker CLI, the same requests
# localkube's bollard sends. A check of a difference passes when Podman behaves as localkube's
# refusal says (plan::engines::podman_refusal): should one fail on a newer Podman, the refusal
# is to be revisited.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${CHECK_PODMAN_WORK:-/tmp/localkube-podman}
BIN=${LOCALKUBE_BIN:-$ROOT/target/debug/localkube}
NAME=podman
PROFILE=hostspod
source "$ROOT/scripts/lib/engine-check.sh"
mkdir -p "$WORK"

command -v podman >/dev/null || { echo "no podman: sudo apt-get install podman" >&2; exit 1; }
[[ -x $BIN ]] || { echo "no localkube binary at $BIN: cargo build --locked first" >&2; exit 1; }
# One image of localkube's, from the host's Docker, to run the probes in.
IMAGE=$(env -u DOCKER_HOST docker images localkube/storage-helper --format '{{.Repository}}:{{.Tag}}' | head -n 1)
[[ -n $IMAGE ]] || { echo "no localkube/storage-helper image in the host's Docker: localkube images build" >&2; exit 1; }
[[ -f $WORK/probe.tar ]] || env -u DOCKER_HOST docker save "$IMAGE" -o "$WORK/probe.tar"
export IMAGE
engine_isolate "$@"

PODMAN_PID=
# Podman sets a container's open files and processes to the kernel's maximum unless told
# otherwise, which needs CAP_SYS_RESOURCE (absent from this project's sandbox, as it is why
# --privileged fails here). Podman 4.3 knows no `host` value, and the service sets its own
# limits when it starts (measured: 32768 processes under a shell allowed 96367), so it is
# started once to read them, then again with them as every container's. runc, not crun: crun
# 1.8 refuses this host's hybrid cgroup v1 layout.
podman_config() {
	cat >"$D/containers.conf" <<-CONF
		[containers]
		default_ulimits = [$1]
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$D/events.log"
		runtime = "runc"
		static_dir = "$D/libpod"
		tmp_dir = "$D/tmp"
		volume_path = "$D/volumes"
		[network]
		network_backend = "netavark"
		network_config_dir = "$D/networks"
	CONF
	printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' "$D/storage" "$D/run" >"$D/storage.conf"
}
podman_service() {
	CONTAINERS_CONF=$D/containers.conf CONTAINERS_STORAGE_CONF=$D/storage.conf nohup \
		podman --root "$D/storage" --runroot "$D/run" system service --time=0 "$DOCKER_HOST" \
		>>"$D/podman.log" 2>&1 &
	PODMAN_PID=$!
	wait_for 60 docker version >/dev/null
}
hard_limit() { awk -v what="$2" '$0 ~ "^" what { print $(NF - 1) }' "/proc/$1/limits"; }
engine_start() {
	local files processes
	if [[ ! -f $D/containers.conf ]]; then
		podman_config '' && podman_service || return 1
		files=$(hard_limit "$PODMAN_PID" "Max open files")
		processes=$(hard_limit "$PODMAN_PID" "Max processes")
		engine_stop
		podman_config "\"nofile=$files:$files\", \"nproc=$processes:$processes\""
	fi
	podman_service && docker version --format 'Podman {{.Server.Version}}, API {{.Server.APIVersion}}' &&
		grep default_ulimits "$D/containers.conf"
}
engine_stop() {
	[[ -n $PODMAN_PID ]] || return 0
	docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1
	kill "$PODMAN_PID" 2>/dev/null || true
	wait_for 30 bash -c "! kill -0 $PODMAN_PID 2>/dev/null" || kill -9 "$PODMAN_PID" 2>/dev/null || true
	PODMAN_PID=
	# Each `docker exec` leaves a conmon for 300 s (its --exit-delay); only this run's, found by
	# the run's storage folder in their arguments.
	local pid
	for pid in $(pgrep -f -- "-b $D/storage/overlay-containers/"); do kill "$pid" 2>/dev/null; done
	sleep 1
	# The cgroupfs manager's parent at the root of each hierarchy (and conmon's under it), once
	# empty.
	find /sys/fs/cgroup/*/libpod_parent -depth -type d -exec rmdir {} + 2>/dev/null
	return 0
}

# What a node container gets from localkube where --privileged is refused: every capability but
# SYS_RESOURCE, seccomp and AppArmor unconfined, unmasked /proc and /sys, tmpfs on /run.
node_run() {
	docker run -d --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
		--security-opt apparmor=unconfined --tmpfs /run --tmpfs /tmp "$@"
}
# A container run to its end, its output printed, its exit status returned. Detached and read
# back: the docker CLI 20.10's attach gets 409 from Podman 4.3 (`unable to upgrade to tcp`).
run_to_end() {
	local id status
	id=$(docker run -d "$@") || return 1
	status=$(docker wait "$id")
	docker logs "$id" 2>&1
	docker rm "$id" >/dev/null
	return "$status"
}
load_probe() { docker load -i "$WORK/probe.tar"; }
# Docker fills an empty named volume with what the image holds at its mount point; a node's
# /var volume starts from the image's /var that way.
copy_up() {
	docker volume create probe-var >/dev/null &&
		run_to_end -v probe-var:/var "$IMAGE" true &&
		run_to_end -v probe-var:/probe "$IMAGE" ls /probe/lib/dpkg/status
}
# Every node keeps one address on the profile's network across restarts.
fixed_address() {
	local got
	docker network create --subnet 172.30.250.0/24 --gateway 172.30.250.1 probe-net >/dev/null &&
		node_run --name probe-ip --network probe-net --ip 172.30.250.10 "$IMAGE" sleep 600 >/dev/null &&
		got=$(docker inspect probe-ip -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}') &&
		echo "address: $got" && [[ $got == 172.30.250.10 ]] &&
		docker restart probe-ip >/dev/null &&
		got=$(docker inspect probe-ip -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}') &&
		echo "after a restart: $got" && [[ $got == 172.30.250.10 ]]
}
capabilities() {
	node_run --name probe-caps "$IMAGE" sleep 600 >/dev/null && docker exec probe-caps grep CapEff /proc/self/status
}
# A node asks for a private cgroup namespace (HostConfig.CgroupnsMode); Docker gives one on
# cgroup v1 and v2. Passes when Podman gives the host's instead, as the refusal says.
cgroupns_ignored() {
	local pid
	node_run --name probe-cgns --cgroupns=private "$IMAGE" sleep 600 >/dev/null &&
		pid=$(docker inspect probe-cgns -f '{{.State.Pid}}') &&
		echo "node: $(readlink "/proc/$pid/ns/cgroup"), host: $(readlink /proc/self/ns/cgroup)" &&
		docker exec probe-cgns head -n 2 /proc/self/cgroup &&
		[[ $(readlink "/proc/$pid/ns/cgroup") == "$(readlink /proc/self/ns/cgroup)" ]]
}
# A node asks for no masked or read-only paths (HostConfig.MaskedPaths and ReadonlyPaths
# empty, what `--security-opt systempaths=unconfined` sends), so kube-proxy can set
# route_localnet. Passes when /proc/sys stays read-only, as the refusal says.
proc_sys_read_only() {
	local out
	out=$(run_to_end --cap-add ALL --cap-drop SYS_RESOURCE --security-opt systempaths=unconfined \
		"$IMAGE" sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet && echo writable' 2>&1)
	echo "$out"
	grep -q 'Read-only file system' <<<"$out"
}
doctor_refuses() {
	local out
	out=$(lk doctor --nodes 2 2>&1) && return 1
	echo "$out"
	grep -q 'problem \[docker\]: the daemon at .* is Podman' <<<"$out"
}
start_refuses() {
	local out
	out=$(lk start --nodes 2 2>&1) && return 1
	echo "$out"
	grep -q 'is Podman' <<<"$out" && [[ -z $(docker ps -aq --filter "label=io.localkube.profile=$PROFILE") ]]
}

set +e
trap engine_stop EXIT
ENGINE_DESCRIPTION="podman system service"
LABEL=rootful
D=$WORK/$LABEL
LOG=$D/check.log
rm -rf "$D" && mkdir -p "$D"
export DOCKER_HOST=unix://$D/engine.sock
export LOCALKUBE_HOME=$D/home LOCALKUBE_CACHE=$D/cache KUBECONFIG=$D/kubeconfig
t_all=$(now)
check "podman system service answers" engine_start || exit 1
check "docker load of one image" load_probe
check "a named volume is filled from the image (copy-up): as Docker" copy_up
check "a fixed address on a user network, kept across a restart: as Docker" fixed_address
check "every capability but SYS_RESOURCE, instead of --privileged: as Docker" capabilities
check "private cgroup namespace asked through the API: ignored, the host's is shared" cgroupns_ignored
check "unmasked /proc/sys asked through the API: ignored, read-only" proc_sys_read_only
check "localkube doctor refuses it with the reason" doctor_refuses
check "localkube start refuses it and creates nothing" start_refuses
engine_stop
say "[$LABEL] all checks: $(since "$t_all") s"
echo "Podman checks: $failed failed"
((failed == 0))
