#!/usr/bin/env bash
# Checks localkube on a cgroup v2 host: a Debian bookworm VM (systemd, Debian's docker.io, the
# unified cgroup hierarchy with every controller) under QEMU's software emulation, since this
# project's machines boot cgroup v1 and cannot change it. Run by hand, never in CI: it takes
# tens of minutes of CPU.
#
#   scripts/check-host.sh [IMAGES_ARCHIVE]
#
# The VM image is built once with mmdebstrap and cached by its inputs under the cache folder.
# The localkube binary (LOCALKUBE_BIN, default target/debug/localkube) reaches the VM on a second
# disk, an `images save` archive (made here from the host's Docker when not given) on a third,
# read-only; its import is done once and kept (see below). The VM
# has no network device (-nic none): nothing it does can leave the machine. Inside, the checks in
# scripts/check-host-guest.sh run: `start` with 2 nodes, a memory limit enforced, DNS, a
# ClusterIP and a LoadBalancer Service answering from the VM's loopback, stop/start with objects
# kept, a dockerd restart. Each prints its time; the script exits non-zero if any failed.
#
# Environment: VM_MEMORY (default 8G), VM_CPUS (2), CHECK_HOST_TIMEOUT (seconds a boot may take
# at a 10x pace, 5400; stretched by the pace the guest reports when slower),
# CHECK_HOST_WORK (scratch folder, default /tmp/localkube-check-host).
#
# ROOTLESS=1: the same checks as an ordinary user (lk, uid 1000) on rootless Docker: Debian's
# dockerd-rootless.sh (rootlesskit, slirp4netns) as that user's systemd service, the user's
# manager given every controller by a user@.service drop-in (systemd's delegation), the user
# lingering so it starts at boot; the system's dockerd is masked. A VM image of its own (the
# packages and setup differ); the images are loaded in the same boot as the checks, into the
# user's Docker.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LOCALKUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/localkube}
WORK=${CHECK_HOST_WORK:-/tmp/localkube-check-host}
BIN=${LOCALKUBE_BIN:-$ROOT/target/debug/localkube}
MEMORY=${VM_MEMORY:-8G}
CPUS=${VM_CPUS:-2}
TIMEOUT=${CHECK_HOST_TIMEOUT:-5400}
SUITE=bookworm
# What the guest needs: a kernel and an initramfs that finds a virtio disk, systemd (Docker's
# systemd cgroup driver, as on users' hosts), Docker, and curl for the LoadBalancer check.
PACKAGES=linux-image-amd64,initramfs-tools,systemd,systemd-sysv,udev,dbus,docker.io,iptables,iproute2,kmod,procps,curl,ca-certificates,e2fsprogs
ROOTLESS=${ROOTLESS:-0}
# Rootless Docker's own parts, and the user's D-Bus that `systemctl --user` talks to.
[[ $ROOTLESS == 1 ]] && PACKAGES+=,rootlesskit,slirp4netns,uidmap,dbus-user-session

say() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
need() { command -v "$1" >/dev/null || { echo "missing $1: sudo apt-get install $2" >&2; exit 1; }; }
need mmdebstrap mmdebstrap
need qemu-system-x86_64 qemu-system-x86
need mke2fs e2fsprogs

mkdir -p "$WORK"

# --- The VM image, cached by its inputs ------------------------------------------------------
# The guest's own files (fstab, the unit that runs the checks at boot), part of the image key.
guest_setup() {
	local r=$1
	echo localkube-vm >"$r/etc/hostname"
	printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n/dev/vdb /data ext4 rw 0 2\n' >"$r/etc/fstab"
	mkdir -p "$r/data"
	# The checks run once the machine is up and Docker answers; the VM powers off after them.
	cat >"$r/etc/systemd/system/localkube-check.service" <<-'UNIT'
		[Unit]
		Description=localkube's cgroup v2 checks
		After=docker.service data.mount
		Wants=docker.service
		[Service]
		Type=oneshot
		ExecStart=/bin/bash /data/check-host-guest.sh
		StandardOutput=tty
		StandardError=journal
		TTYPath=/dev/ttyS1
		TimeoutStartSec=infinity
		[Install]
		WantedBy=multi-user.target
	UNIT
	ln -sf /etc/systemd/system/localkube-check.service \
		"$r/etc/systemd/system/multi-user.target.wants/localkube-check.service"
	# Nothing to wait for on a machine with no network.
	ln -sf /dev/null "$r/etc/systemd/system/systemd-networkd-wait-online.service"
	ln -sf /dev/null "$r/etc/systemd/system/apt-daily.timer"
	ln -sf /dev/null "$r/etc/systemd/system/apt-daily-upgrade.timer"
	passwd -R "$r" -d root >/dev/null
}
# The user, its subordinate ids, delegation and its Docker (ROOTLESS=1 only).
guest_rootless() {
	local r=$1
	useradd -R "$r" -m -u 1000 -s /bin/bash lk
	echo lk:100000:65536 >"$r/etc/subuid"
	echo lk:100000:65536 >"$r/etc/subgid"
	# systemd's user@.service delegation: the user's manager, and so its Docker and the nodes,
	# may use every controller a node needs (kubelet refuses to start without cpu, cpuset and
	# memory).
	mkdir -p "$r/etc/systemd/system/user@.service.d"
	printf '[Service]\nDelegate=cpu cpuset io memory pids\n' >"$r/etc/systemd/system/user@.service.d/delegate.conf"
	# The user's manager starts at boot, with no login.
	mkdir -p "$r/var/lib/systemd/linger" && touch "$r/var/lib/systemd/linger/lk"
	cat >"$r/etc/systemd/user/docker.service" <<-'UNIT'
		[Unit]
		Description=Docker, rootless
		[Service]
		Environment=PATH=/usr/share/docker.io/contrib:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		ExecStart=/usr/share/docker.io/contrib/dockerd-rootless.sh
		Restart=always
		RestartSec=2
		TimeoutSec=0
		LimitNOFILE=infinity
		LimitNPROC=infinity
		TasksMax=infinity
		Delegate=yes
		KillMode=mixed
		[Install]
		WantedBy=default.target
	UNIT
	mkdir -p "$r/etc/systemd/user/default.target.wants"
	ln -sf /etc/systemd/user/docker.service "$r/etc/systemd/user/default.target.wants/docker.service"
	# Only the user's Docker runs.
	ln -sf /dev/null "$r/etc/systemd/system/docker.service"
	ln -sf /dev/null "$r/etc/systemd/system/docker.socket"
	sed -i 's/^After=docker.service data.mount$/After=user@1000.service data.mount/; s/^Wants=docker.service$/Wants=user@1000.service/' \
		"$r/etc/systemd/system/localkube-check.service"
}
# (An `a && b` as the subshell's last command would fail it when ROOTLESS=0, and with it the
# script, silently: set -e.)
KEY=$( (
	echo "$SUITE $PACKAGES"
	declare -f guest_setup
	if [[ $ROOTLESS == 1 ]]; then declare -f guest_rootless; fi
) | sha256sum | cut -c1-16)
VM_DIR=$CACHE/vm/$KEY
if [[ ! -f $VM_DIR/root.img ]]; then
	say "building the VM image ($VM_DIR)"
	t0=$(date +%s)
	rm -rf "$VM_DIR.tmp" && mkdir -p "$VM_DIR.tmp/tree"
	nice -n 10 mmdebstrap --variant=minbase --include="$PACKAGES" \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
		"$SUITE" "$VM_DIR.tmp/rootfs.tar" >"$VM_DIR.tmp/mmdebstrap.log" 2>&1 ||
		{ tail -20 "$VM_DIR.tmp/mmdebstrap.log" >&2; exit 1; }
	tar -C "$VM_DIR.tmp/tree" -xpf "$VM_DIR.tmp/rootfs.tar"
	guest_setup "$VM_DIR.tmp/tree"
	if [[ $ROOTLESS == 1 ]]; then guest_rootless "$VM_DIR.tmp/tree"; fi
	cp "$VM_DIR.tmp/tree"/boot/vmlinuz-* "$VM_DIR.tmp/vmlinuz"
	cp "$VM_DIR.tmp/tree"/boot/initrd.img-* "$VM_DIR.tmp/initrd.img"
	# A sparse 24 GB disk: the images unpacked (~3 GB) and two nodes' volumes fit with room.
	mke2fs -q -t ext4 -d "$VM_DIR.tmp/tree" "$VM_DIR.tmp/root.img" 24G
	rm -rf "$VM_DIR.tmp/tree" "$VM_DIR.tmp/rootfs.tar"
	rm -rf "$VM_DIR" && mv "$VM_DIR.tmp" "$VM_DIR"
	say "VM image built in $(($(date +%s) - t0)) s"
fi
[[ ${1:-} == --image-only ]] && exit 0

# --- What the VM gets: the binary, the checks, the archive ----------------------------------
[[ -x $BIN ]] || { echo "no localkube binary at $BIN: cargo build --locked first" >&2; exit 1; }
ARCHIVE=${1:-$WORK/images.tar}
# The guest's disk after an import (see below), and what it was imported from.
IMPORTED=$VM_DIR/imported.qcow2
if [[ ! -f $ARCHIVE && ! -f $IMPORTED ]]; then
	say "saving the images to $ARCHIVE"
	"$BIN" images save "$ARCHIVE.tmp" && mv "$ARCHIVE.tmp" "$ARCHIVE"
fi
DATA=$WORK/data
rm -rf "$DATA" && mkdir -p "$DATA"
strip --strip-debug -o "$DATA/localkube" "$BIN" 2>/dev/null || cp "$BIN" "$DATA/localkube"
cp "$ROOT/scripts/check-host-guest.sh" "$DATA/"
rm -f "$WORK/data.img"
mke2fs -q -t ext4 -d "$DATA" "$WORK/data.img" "$(($(du -sm "$DATA" | cut -f1) + 256))M"
rm -rf "$DATA"

# Boots the VM once. $1: what the guest runs (import, or checks); $2: its root disk, a qcow2
# overlay (only what the guest writes lands on the host's disk); the rest: more QEMU arguments.
# Follows the guest's lines until it says it is done; returns non-zero if a check failed.
boot() {
	local phase=$1 disk=$2 t0 shown=0 booted= deadline lines wait_s paced= pace
	shift 2
	: >"$WORK/console.log"
	: >"$WORK/checks.log"
	say "booting the VM ($phase): $CPUS vCPUs (TCG), $MEMORY, no network device"
	t0=$(date +%s.%N)
	# TCG: KVM here cannot run a stock kernel. nice: the host's other work goes first. apparmor=0:
	# the image has no apparmor_parser (minbase, no Recommends), and Docker refuses to build with
	# AppArmor on and its profile unloadable (seen: the load balancer image's RUN step failed).
	# discard=unmap: what the guest frees is freed in the overlay too.
	nice -n 10 qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu max -smp "$CPUS" \
		-m "$MEMORY" -nic none -display none -monitor none -no-reboot \
		-kernel "$VM_DIR/vmlinuz" -initrd "$VM_DIR/initrd.img" \
		-append "root=/dev/vda rw console=ttyS0 systemd.unified_cgroup_hierarchy=1 apparmor=0 quiet localkube.phase=$phase localkube.rootless=$ROOTLESS" \
		-drive "file=$disk,if=virtio,format=qcow2,cache=unsafe,discard=unmap" \
		-drive "file=$WORK/data.img,if=virtio,format=raw,cache=unsafe" \
		"$@" \
		-serial "file:$WORK/console.log" -serial "file:$WORK/checks.log" &
	QEMU=$!
	trap 'kill $QEMU 2>/dev/null' EXIT
	deadline=$(($(date +%s) + TIMEOUT))
	while kill -0 $QEMU 2>/dev/null; do
		lines=$(wc -l <"$WORK/checks.log")
		if ((lines > shown)); then
			if [[ -z $booted ]]; then
				booted=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
				say "boot: the guest began ${booted} s after QEMU started"
			fi
			sed -n "$((shown + 1)),${lines}p" "$WORK/checks.log"
			shown=$lines
			# TIMEOUT fits a guest at 10x (this machine idle); a slower one, as its pace
			# line says, gets it stretched as much as the guest's own waits.
			if [[ -z $paced ]] && pace=$(sed -n 's/^pace: \([0-9.]*\)x.*/\1/p' "$WORK/checks.log") && [[ -n $pace ]]; then
				paced=$pace
				deadline=$(awk -v t0="${t0%.*}" -v t="$TIMEOUT" -v p="$pace" 'BEGIN { printf "%d", t0 + t * (p > 10 ? p / 10 : 1) }')
			fi
		fi
		grep -q '^CHECKS DONE' "$WORK/checks.log" && break
		if (($(date +%s) > deadline)); then
			say "timed out after $(($(date +%s) - ${t0%.*})) s; the console's last lines:"
			tail -20 "$WORK/console.log" >&2
			break
		fi
		sleep 2
	done
	wait_s=0
	while kill -0 $QEMU 2>/dev/null && ((wait_s < 60)); do sleep 1; wait_s=$((wait_s + 1)); done
	kill $QEMU 2>/dev/null || true
	wait $QEMU 2>/dev/null || true
	trap - EXIT
	sed -n "$((shown + 1)),\$p" "$WORK/checks.log"
	# The details stay on the data disk.
	debugfs -R "dump /guest.log $WORK/guest-$phase.log" "$WORK/data.img" >/dev/null 2>&1 &&
		say "details: $WORK/guest-$phase.log"
	say "$phase: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s in all"
	grep -q '^CHECKS DONE failed=0' "$WORK/checks.log"
}

T0=$(date +%s)
# Rootless: the user's Docker loads the archive in the same boot as the checks (its data root is
# the user's, not the one a kept import holds).
if [[ $ROOTLESS == 1 ]]; then
	[[ -f $ARCHIVE ]] || { echo "ROOTLESS=1 needs an images archive: scripts/check-host.sh ARCHIVE" >&2; exit 1; }
	qemu-img create -q -f qcow2 -b "$VM_DIR/root.img" -F raw "$WORK/run.qcow2"
	status=0
	boot checks "$WORK/run.qcow2" -drive "file=$ARCHIVE,if=virtio,format=raw,readonly=on" || status=1
	rm -f "$WORK/run.qcow2"
	say "whole check (rootless): $(($(date +%s) - T0)) s"
	exit $status
fi
# --- The import, once per archive ------------------------------------------------------------
# Under TCG, `images load` of the archive takes 15-20 minutes: it is done once, by localkube in
# the guest, and the guest's disk after it is kept (a qcow2 overlay on the VM image) for every
# later run with the same images. The archive reaches the guest as a read-only disk that
# `images load` reads as it is: no copy of it on the host. What identifies it: its manifest
# (the images' IDs, the checksums of every file). Without an archive, a kept import is used.
if [[ -f $ARCHIVE ]]; then
	archive_key=$(tar -xOf "$ARCHIVE" localkube-images.json | sha256sum | cut -c1-16)
	if [[ -f $IMPORTED && $(cat "$VM_DIR/imported.key" 2>/dev/null) != "$archive_key" ]]; then
		say "the kept import is of other images: importing $ARCHIVE"
		rm -f "$IMPORTED"
	fi
fi
if [[ ! -f $IMPORTED ]]; then
	rm -f "$IMPORTED.tmp" "$VM_DIR/imported.key" "$VM_DIR/imported.seconds"
	qemu-img create -q -f qcow2 -b "$VM_DIR/root.img" -F raw "$IMPORTED.tmp"
	boot import "$IMPORTED.tmp" \
		-drive "file=$ARCHIVE,if=virtio,format=raw,readonly=on" ||
		{ say "the import failed: see above"; rm -f "$IMPORTED.tmp"; exit 1; }
	sed -n 's/^PASS *\([0-9.]*\) s  images load.*/\1/p' "$WORK/checks.log" >"$VM_DIR/imported.seconds"
	echo "$archive_key" >"$VM_DIR/imported.key"
	mv "$IMPORTED.tmp" "$IMPORTED"
else
	say "the images' import is kept from an earlier run ($IMPORTED; it took $(cat "$VM_DIR/imported.seconds" 2>/dev/null || echo '?') s)"
fi

# --- The checks, on a fresh overlay of the imported disk -------------------------------------
qemu-img create -q -f qcow2 -b "$IMPORTED" -F qcow2 "$WORK/run.qcow2"
status=0
boot checks "$WORK/run.qcow2" || status=1
rm -f "$WORK/run.qcow2"
say "whole check: $(($(date +%s) - T0)) s"
exit $status
