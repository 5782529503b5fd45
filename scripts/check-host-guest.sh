#!/bin/bash
# Runs inside the cgroup v2 VM that scripts/check-host.sh boots (from its data disk, /data, at
# boot, by a systemd unit), in one of two phases the kernel's command line names: `import` loads
# the images archive, `checks` runs the checks on a disk that holds them. Each check prints PASS
# or FAIL and its time on the second serial port; the details go to /data/guest.log. The VM has
# no network device: every address used here is the VM's own (loopback, Docker's bridges in it).
set -uo pipefail
export PATH=/data:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# root at boot (systemd gives no HOME); the rootless user brings its own.
((EUID == 0)) && export HOME=/root
LK=/data/localkube
P=hostsvm
LOG=/data/guest.log
: >"$LOG"
failed=0
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
T_ALL=$(now)
echo "guest up: $(cut -d' ' -f1 /proc/uptime) s after the kernel started"

# Runs one check, its output to the log; beside its time, the pace its localkube commands said
# (one figure when they agree, as they should: one pace per boot). On failure: the log's last
# lines, and what the cluster looked like then (`cluster_state`), on the serial port too, since
# the log may be lost with the VM. Synced after each: the host reads the log from the data disk
# after a power-off that may not be clean.
check() {
	local name=$1 t0 r from paces
	shift
	t0=$(now)
	echo "=== $name ($(date +%T))" >>"$LOG"
	from=$(wc -l <"$LOG")
	if "$@" >>"$LOG" 2>&1; then r=PASS; else
		r=FAIL
		failed=$((failed + 1))
	fi
	paces=$(tail -n +"$((from + 1))" "$LOG" | grep -o 'pace: this machine runs about [0-9.]*x' |
		sed 's/.* //' | sort -u | tr '\n' ' ')
	printf '%s %7s s  %s%s\n' "$r" "$(since "$t0")" "$name" "${paces:+  (pace ${paces% })}"
	if [[ $r != PASS ]]; then
		tail -n 30 "$LOG" | sed 's/^/    | /'
		from=$(wc -l <"$LOG")
		cluster_state >>"$LOG" 2>&1
		tail -n +"$((from + 1))" "$LOG" | head -n 150 | sed 's/^/    > /'
	fi
	sync
	[[ $r == PASS ]]
}

# What the cluster looks like, for a failed check: the kube-system pods, CoreDNS's endpoints,
# events and logs, the client pod's resolver. Only once the cluster has been started.
cluster_state() {
	[[ -n ${STARTED:-} ]] || return 0
	echo "--- cluster state at $(date +%T)"
	k get pods -A -o wide
	k -n kube-system get endpointslices -l kubernetes.io/service-name=kube-dns -o wide
	k get events -A --sort-by=.lastTimestamp | tail -n 40
	k -n kube-system logs deploy/coredns --tail=30
	k exec client -- cat /etc/resolv.conf
	k exec client -- bash -c 'time getent ahostsv4 kubernetes.default.svc.cluster.local'
	# The rest to the log only (the serial port shows the first lines): every kube-system pod
	# described, and the nodes' own logs (kubelet, containerd) as localkube gives them.
	k -n kube-system describe pods
	"$LK" -p "$P" logs --tail 80
	echo "--- end of cluster state"
}

finish() {
	echo "all checks: $(since "$T_ALL") s, $failed failed"
	echo "CHECKS DONE failed=$failed"
	sync
	# As the rootless user, root's part of this script powers off after it.
	((EUID == 0)) && systemctl poweroff --no-block
	exit 0
}

# Polls a command until it succeeds or `seconds`, stretched by the machine's pace, pass.
wait_for() {
	local seconds deadline
	seconds=$(paced "$1")
	shift
	deadline=$(($(date +%s) + seconds))
	until "$@"; do
		(($(date +%s) < deadline)) || {
			echo "gave up after ${seconds} s: $*"
			return 1
		}
		sleep 2
	done
}

k() { "$LK" -p "$P" kubectl -- "$@"; }

# Rootless (localkube.rootless=1): root hands the run to the user lk, whose systemd manager runs
# its Docker (scripts/check-host.sh's guest_rootless), then powers off.
ROOTLESS=0
grep -qw localkube.rootless=1 /proc/cmdline && ROOTLESS=1
if ((ROOTLESS && EUID == 0)); then
	chmod 0666 "$LOG"
	chmod 0644 /dev/vdc
	for _ in $(seq 150); do [[ -S /run/user/1000/bus ]] && break; sleep 2; done
	runuser -u lk -- env HOME=/home/lk XDG_RUNTIME_DIR=/run/user/1000 \
		DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus \
		DOCKER_HOST=unix:///run/user/1000/docker.sock PATH="$PATH" bash "$0"
	sync
	systemctl poweroff --no-block
	exit 0
fi

docker_answers() { docker info >/dev/null 2>&1; }

# The machine's pace: what localkube measured once for this boot and keeps (every verb after it
# uses the same), from `doctor -o json`; 1 until it is known. The waits below are given as this
# project's machines need them and stretched by it, as localkube stretches its own.
PACE=1
learn_pace() {
	PACE=$("$LK" doctor -o json 2>/dev/null | sed -n 's/^ *"time_factor": *\([0-9.]*\).*/\1/p')
	[[ -n $PACE ]] || PACE=1
	echo "pace: ${PACE}x (localkube's, kept for this boot: every verb and every wait below follows it)"
}
# `seconds` stretched by the pace, whole.
paced() { awk -v s="$1" -v p="$PACE" 'BEGIN { printf "%d", s * (p > 1 ? p : 1) + 0.999 }'; }

cgroup_v2() {
	stat -fc %T /sys/fs/cgroup | tee -a /dev/stderr | grep -qx cgroup2fs &&
		cat /sys/fs/cgroup/cgroup.controllers &&
		if ((ROOTLESS)); then
			# What systemd delegated to the user's manager, where the user's Docker runs.
			cat "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers" |
				tee -a /dev/stderr | grep -qw memory &&
				docker info -f '{{.SecurityOptions}}' | tee -a /dev/stderr | grep -q rootless
		fi &&
		docker info -f 'cgroup v{{.CgroupVersion}}, {{.CgroupDriver}} driver, {{.ServerVersion}}' |
		tee -a /dev/stderr | grep -q '^cgroup v2'
}

nodes_ready() {
	[[ $(k get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l) -ge 2 ]]
}

nodes_on_cgroup_v2() {
	k get nodes -o wide &&
		for n in "$P" "$P-m02"; do
			docker exec "$n" stat -fc %T /sys/fs/cgroup | grep -qx cgroup2fs || return 1
			docker exec "$n" cat /sys/fs/cgroup/kubelet/cgroup.controllers | tee -a /dev/stderr |
				grep -qw memory || return 1
		done
}

version() { k get nodes -o jsonpath='{.items[0].status.nodeInfo.kubeletVersion}'; }

workloads() {
	local v
	v=$(version) || return 1
	# A process that grows past its memory limit: the kernel's cgroup v2 OOM killer ends it and
	# kubelet restarts it. A ConfigMap that must survive stop/start. A client pod for DNS and the
	# ClusterIP check. Services in front of CoreDNS's health port (the only HTTP server the
	# cluster's own images bring).
	k apply -f - <<-YAML
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: keep, namespace: default}
		data: {kept: "yes"}
		---
		apiVersion: apps/v1
		kind: Deployment
		metadata: {name: hog, namespace: default}
		spec:
		  selector: {matchLabels: {app: hog}}
		  template:
		    metadata: {labels: {app: hog}}
		    spec:
		      containers:
		      - name: hog
		        image: localkube/storage-helper:$v
		        imagePullPolicy: Never
		        # tail keeps the last lines of /dev/zero, which has no newline: one line that
		        # grows until the limit. It is the container's main process, so the OOM kill ends
		        # the container (on cgroup v1 too, where the kill is not grouped) and it restarts.
		        command: ["bash", "-c", "sleep 5; exec tail /dev/zero"]
		        resources: {limits: {memory: 64Mi}, requests: {memory: 32Mi}}
		---
		apiVersion: v1
		kind: Pod
		metadata: {name: client, namespace: default}
		spec:
		  terminationGracePeriodSeconds: 1
		  containers:
		  - name: client
		    image: localkube/storage-helper:$v
		    imagePullPolicy: Never
		    command: ["sleep", "infinity"]
		---
		apiVersion: v1
		kind: Service
		metadata: {name: health, namespace: kube-system}
		spec:
		  selector: {k8s-app: kube-dns}
		  ports: [{port: 8080, targetPort: 8080}]
		---
		apiVersion: v1
		kind: Service
		metadata: {name: health-lb, namespace: kube-system}
		spec:
		  type: LoadBalancer
		  selector: {k8s-app: kube-dns}
		  ports: [{port: 8080, targetPort: 8080}]
	YAML
}

oom_killed() {
	local s
	s=$(k get pods -l app=hog -o jsonpath='{.items[0].status.containerStatuses[0].restartCount} {.items[0].status.containerStatuses[0].lastState.terminated.reason}')
	echo "hog: restarts and last reason: $s"
	[[ ${s%% *} -ge 1 && $s == *OOMKilled* ]]
}

dns() {
	k wait --for=condition=Ready pod/client --timeout="$(paced 30)s" &&
		k exec client -- getent hosts kubernetes.default.svc.cluster.local | tee -a /dev/stderr |
		grep -q '^10\.96\.0\.1 '
}

cluster_ip() {
	k exec client -- bash -c 'exec 3<>/dev/tcp/health.kube-system.svc.cluster.local/8080 &&
		printf "GET /health HTTP/1.0\r\n\r\n" >&3 && cat <&3' | tee -a /dev/stderr | grep -q '^OK'
}

lb_ip() { k -n kube-system get svc health-lb -o jsonpath='{.status.loadBalancer.ingress[0].ip}'; }

lb_answers() {
	local ip
	ip=$(lb_ip) && [[ $ip == 127.* ]] && curl -fsS --max-time 5 "http://$ip:8080/health" | grep -q '^OK'
}

kept() {
	k get configmap keep -o jsonpath='{.data.kept}' | grep -qx yes &&
		k get deployment hog
}

stop_start() {
	"$LK" -p "$P" stop && "$LK" -p "$P" start && kept && wait_for 60 lb_answers
}

restart_docker() {
	if ((ROOTLESS)); then systemctl --user restart docker; else systemctl restart docker; fi
}

dockerd_restart() {
	restart_docker &&
		wait_for 30 docker_answers &&
		wait_for 90 nodes_ready &&
		kept &&
		wait_for 60 lb_answers &&
		wait_for 30 dns
}

# The archive, a read-only disk, read as it is. Docker unpacks the whole of it into its tmp folder
# before it stores the layers: a tmpfs there keeps that copy off the disk.
images_load() {
	mount -t tmpfs -o size=3g tmpfs /var/lib/docker/tmp &&
		"$LK" images load /dev/vdc
	local r=$?
	umount /var/lib/docker/tmp
	sync
	return $r
}

# A check whose failure leaves nothing for the later ones ends the run (`|| finish`).
check "Docker answers" wait_for 300 docker_answers || finish
# The first boot only imports the archive; the host keeps the disk for the runs after it.
if grep -qw localkube.phase=import /proc/cmdline; then
	check "images load (the archive's import)" images_load
	finish
fi
check "cgroup v2, every controller, Docker's systemd driver" cgroup_v2
# Rootless: the user's Docker loads the archive here (no kept import; its data root is the
# user's), from the read-only disk, as the user.
((ROOTLESS)) && { check "images load (into the user's Docker)" "$LK" images load /dev/vdc || finish; }
check "localkube doctor" "$LK" doctor --nodes 2
learn_pace
START_FLAGS=()
# kubelet in a user namespace: without the gate it stops at what a user namespace forbids (kind
# sets it for rootless nodes too).
((ROOTLESS)) && START_FLAGS=(--feature-gates KubeletInUserNamespace=true)
STARTED=1
# Rootless: what the cluster looks like a while after both nodes are Ready, whatever `start` is
# still waiting for then (its addons never got ready in the first run: this is how to see why).
if ((ROOTLESS)); then
	(
		wait_for 600 nodes_ready >/dev/null 2>&1 || exit 0
		sleep "$(paced 20)"
		# In the user's own folder: /data is root's, only the log is left writable for the user.
		state=$HOME/rootless-state.log
		cluster_state >"$state" 2>&1
		echo "--- rootless: the cluster $(paced 20) s after both nodes were Ready"
		head -n 200 "$state" | sed 's/^/    > /'
		cat "$state" >>"$LOG"
		sync
	) &
fi
check "start --nodes 2" "$LK" -p "$P" start --nodes 2 "${START_FLAGS[@]}" || finish
check "both nodes Ready" wait_for 60 nodes_ready || finish
check "nodes on the unified hierarchy, kubelet's tree with memory" nodes_on_cgroup_v2
check "workloads applied" workloads || finish
check "memory limit enforced: OOM-killed and restarted" wait_for 90 oom_killed
check "DNS from a pod" wait_for 30 dns
check "ClusterIP Service from a pod" wait_for 30 cluster_ip
check "LoadBalancer answers from the VM's loopback" wait_for 60 lb_answers
check "stop, start, objects kept, LoadBalancer again" stop_start
check "dockerd restart: nodes, objects, LoadBalancer, DNS back" dockerd_restart
check "delete" "$LK" -p "$P" delete
finish
