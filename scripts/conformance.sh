#!/usr/bin/env bash
# Runs the upstream Kubernetes conformance tests ([Conformance] specs of e2e.test) against a
# localkube profile, with everything built on this machine (no registry is reachable):
#   1. e2e.test and ginkgo at the profile's Kubernetes version, compiled through the same wrapper
#      Go module and version flags as localkube's components (cached);
#   2. the test images, under the exact names e2e.test uses (scripts/e2e-images.sh, cached);
#   3. loads them into every node of the profile (`localkube image load`, skipped when present);
#   4. runs ginkgo: the parallel specs on N processes, then the [Serial] ones alone, and prints
#      `conformance: N passed, N failed, N skipped` from the JUnit reports (exit 1 on failure).
#
# Usage:
#   scripts/conformance.sh [-p PROFILE] [--quick | --focus REGEX] [options]
#     -p, --profile P   the profile to test (default: localkube); it must be running
#     --quick           the ~25 specs of tests/conformance/quick.txt (a few minutes)
#     --focus REGEX     only the specs whose name matches REGEX (any spec, not only [Conformance])
#     --skip REGEX      also skip the specs matching REGEX
#     --nodes N         ginkgo processes for the parallel part (default 4: two per core of the
#                       2-core machines this runs on; the specs mostly wait on the cluster)
#     --certify         a full run whose results are also written as a cncf/k8s-conformance
#                       submission: DIR/vX.Y/localkube/{PRODUCT.yaml,README.md,e2e.log,junit_01.xml}
#     --certify-dir DIR where --certify writes (default target/conformance/certification)
#     --certify-from R  write the submission folder from the finished full run in report folder
#                       R (its run.json says which profile, version and cluster); runs nothing
#     --build-only      build e2e.test, ginkgo and the images (and load them if the profile runs)
#     --no-load         do not load the images into the nodes
#     --report-dir DIR  where the reports go (default target/conformance/<profile>-<timestamp>/)
#     --dry-run         list the specs that would run, run none
#   Default (no --quick/--focus): every [Conformance] spec, the [Serial] and [Disruptive] ones
#   included as a certification run has them (about 1-2 h on 2 cores); with --quick/--focus,
#   [Disruptive] specs (they taint nodes) are left out.
#
# Environment: LOCALKUBE_HOME, LOCALKUBE_CACHE (as localkube), LOCALKUBE_BIN (default
# target/release/localkube), E2E_NO_WAIT=1 (do not wait for other builds on this machine).
set -euo pipefail
# The whole script is one block, read before it runs: editing the file during a run cannot
# change what the run does.
{
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/e2e-common.sh
source scripts/lib/e2e-common.sh

profile="localkube"
mode="full"
focus=""
extra_skip=""
procs=4
certify=0
certify_dir="target/conformance/certification"
certify_from=""
build_only=0
load=1
report_dir=""
dry_run=0
while (($#)); do
    case "$1" in
        -p | --profile) profile="$2"; shift 2 ;;
        --quick) mode="quick"; shift ;;
        --focus) mode="focus"; focus="$2"; shift 2 ;;
        --skip) extra_skip="$2"; shift 2 ;;
        --nodes) procs="$2"; shift 2 ;;
        --build-only) build_only=1; shift ;;
        --no-load) load=0; shift ;;
        --report-dir) report_dir="$2"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        --certify) certify=1; shift ;;
        --certify-dir) certify_dir="$2"; shift 2 ;;
        --certify-from) certify_from="$2"; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) e2e_die "unknown argument $1 (see --help)" ;;
    esac
done
[[ "$procs" =~ ^[1-9][0-9]*$ ]] || e2e_die "--nodes needs a positive number"
# A certification run has every [Conformance] spec and nothing skipped by us.
if [[ $certify == 1 && ( $mode != full || -n "$extra_skip" ) ]]; then
    e2e_die "--certify runs every [Conformance] spec: it takes no --quick, --focus or --skip"
fi
if [[ -n "$certify_from" ]]; then
    [[ -f "$certify_from/run.json" ]] || e2e_die "no run.json in $certify_from: --certify-from needs the report folder of a full run"
    e2e_certify "$certify_from" "$certify_dir"
    exit 0
fi

runner_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
on_exit() {
    local rc=$?
    if [[ -n "$runner_pid" ]] && kill -0 "$runner_pid" 2>/dev/null; then
        e2e_log "stopping the test run (pid $runner_pid)"
        kill -INT "$runner_pid" 2>/dev/null || true
        wait "$runner_pid" 2>/dev/null || true
    fi
    e2e_cleanup
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

e2e_require jq:jq python3:python3 sha256sum:coreutils flock:util-linux docker:docker.io
version="$(e2e_profile_version "$profile")"
e2e_log "conformance tooling for profile '$profile', Kubernetes $version"
e2e_setup_version "$version"

# 1. e2e.test and ginkgo.
e2e_log "step 1/4: e2e.test and ginkgo"
e2e_dir="$(e2e_build_e2e_test)"
ginkgo_dir="$(e2e_build_ginkgo)"
E2E_TEST_BIN="$e2e_dir/e2e.test"
GINKGO_BIN="$ginkgo_dir/ginkgo"
e2e_log "e2e.test: $("$E2E_TEST_BIN" --version 2>/dev/null | head -n1 || echo '?'); ginkgo $("$GINKGO_BIN" version 2>/dev/null | awk '{print $NF}')"

# 2. The test images.
e2e_log "step 2/4: test images"
for image in "${E2E_ALL_IMAGES[@]}"; do
    # Releases drop images (1.37's DNS tests no longer use jessie-dnsutils): build what it names.
    if [[ -z "$(e2e_image_names "$image")" ]]; then
        e2e_log "$image: not used by e2e.test $E2E_VERSION, skipped"
        continue
    fi
    e2e_build_image "$image"
done

# 3. Into the nodes, and into the profile's registry: specs that pull an image with
# imagePullPolicy Always (ImageVolume's kitten, PodCertificate's agnhost) need a registry that
# serves registry.k8s.io's names, as a connected cluster has; the registry addon is the nodes'
# registry.k8s.io mirror, and `localkube image load` stores the images there through the host's
# push path.
nodes_running="$(e2e_nodes "$profile")"
if [[ $load == 1 ]]; then
    e2e_log "step 3/4: loading the test images into the nodes"
    if [[ -n "$nodes_running" ]]; then
        registry_on="$(e2e_localkube -p "$profile" -o json addons list |
            jq -r '.[] | select(.name == "registry") | .enabled')"
        if [[ "$registry_on" != true ]]; then
            e2e_log "enabling the registry addon of '$profile' (the nodes' registry.k8s.io mirror)"
            e2e_localkube -p "$profile" addons enable registry
        fi
        started_load=$SECONDS
        e2e_localkube -p "$profile" image load "${E2E_BUILT_NAMES[@]}"
        e2e_log "images in the nodes and the registry after $((SECONDS - started_load)) s"
    elif [[ $build_only == 1 ]]; then
        e2e_log "profile '$profile' has no running node: images built, not loaded"
    else
        e2e_die "profile '$profile' has no running node: start it with \`localkube start -p $profile\`"
    fi
fi
if [[ $build_only == 1 ]]; then
    e2e_log "built: $E2E_TEST_BIN, $GINKGO_BIN and ${#E2E_BUILT_NAMES[@]} image names"
    exit 0
fi

# 4. The run.
kubeconfig="$LK_HOME/profiles/$profile/kubeconfigs/admin.conf"
[[ -f "$kubeconfig" ]] || e2e_die "no admin kubeconfig at $kubeconfig"
kubectl_bin="$LK_CACHE/bin/$version/kubectl"
[[ -x "$kubectl_bin" ]] || e2e_die "no kubectl at $kubectl_bin: run \`localkube images build --kubernetes-version $version\`"
"$kubectl_bin" --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1 ||
    e2e_die "the apiserver of profile '$profile' does not answer: is it running (\`localkube -p $profile status\`)?"

# Spec names as a regular expression that matches them literally, but for where bracketed tags
# such as [NodeConformance] stand: releases move them (1.37 sorts them at the end of the name).
# Ginkgo matches the focus against "<suite description> <spec text>", so a name is anchored by
# the space before it.
name_regex() {
    perl -ne 'chomp;
        my @words = split / /;
        my $sig = shift @words;
        my $tags = "(?: \\[[^]]*\\])*";
        my $esc = sub { my $w = shift; $w =~ s/([][\\.|\$(){}?+*^])/\\$1/g; $w };
        print " ", $esc->($sig), join("", map { "$tags " . $esc->($_) } grep { !/^\[.*\]$/ } @words), "$tags\$\n";'
}
case "$mode" in
    full) focus='\[Conformance\]' ;;
    quick)
        focus="$(grep -v '^[[:space:]]*#' tests/conformance/quick.txt | sed '/^[[:space:]]*$/d' | while IFS= read -r line; do
            if [[ $line == re:* ]]; then printf '%s\n' "${line#re:}"; else name_regex <<<"$line"; fi
        done | paste -sd'|' -)"
        ;;
esac
# A full run skips nothing (the two [Disruptive] conformance specs taint a node of the cluster
# under test, which is there for the run); a quick or focused one on a cluster in use leaves
# them out.
if [[ $mode == full ]]; then
    skip="$extra_skip"
    serial_label='Serial'
else
    skip='\[Disruptive\]'
    [[ -n "$extra_skip" ]] && skip="$skip|$extra_skip"
    serial_label='Serial && !Disruptive'
fi

[[ -n "$report_dir" ]] || report_dir="target/conformance/$profile-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$report_dir"
report_dir="$(cd "$report_dir" && pwd)"
e2e_log "step 4/4: running ($mode) with reports in $report_dir"
e2e_run_facts "$report_dir" "$profile" "$version" "$procs" "$mode"

# Ginkgo decides what runs by the spec's text (focus/skip) and by its labels: k8s' [Serial] is also
# the label Serial, so the label filter splits the two parts without a second text regex.
count_specs() {
    local label="$1" out
    out="$("$E2E_TEST_BIN" --provider=skeleton --kubeconfig="$kubeconfig" --ginkgo.dry-run --ginkgo.no-color \
        --ginkgo.focus="$focus" ${skip:+--ginkgo.skip="$skip"} --ginkgo.label-filter="$label" 2>&1 || true)"
    sed -n 's/^Ran \([0-9]*\) of [0-9]* Specs.*/\1/p' <<<"$out" | tail -n1
}

run_part() {
    local part="$1" label="$2" procs="$3" timeout="$4" count
    count="$(count_specs "$label")"
    if [[ -z "$count" ]]; then
        e2e_die "e2e.test could not list the specs ($part): run \`$E2E_TEST_BIN --ginkgo.dry-run --ginkgo.focus='$focus'\` to see why"
    fi
    if [[ "$count" == 0 ]]; then
        e2e_log "$part: no spec matches"
        return 0
    fi
    local dir="$report_dir/$part"
    mkdir -p "$dir"
    local args=(--nodes="$procs" --timeout="$timeout" --no-color --poll-progress-after=5m
        --focus="$focus" ${skip:+--skip="$skip"} --label-filter="$label" --output-dir="$dir")
    # Ginkgo dry-runs only on one process.
    [[ $dry_run == 1 ]] && args=(--nodes=1 "${args[@]:1}" --dry-run -v)
    e2e_log "$part: $count spec(s) on $procs process(es); log: $dir/ginkgo.log"
    local started=$SECONDS
    "$GINKGO_BIN" "${args[@]}" "$E2E_TEST_BIN" -- \
        --provider=skeleton --kubeconfig="$kubeconfig" --kubectl-path="$kubectl_bin" \
        --report-dir="$dir" --e2e-output-dir="$dir" >"$dir/ginkgo.log" 2>&1 &
    runner_pid=$!
    local rc=0
    while kill -0 "$runner_pid" 2>/dev/null; do
        for _ in $(seq 1 30); do
            sleep 2
            kill -0 "$runner_pid" 2>/dev/null || break
        done
        if kill -0 "$runner_pid" 2>/dev/null; then
            local done_specs
            done_specs="$(grep -o '•' "$dir/ginkgo.log" 2>/dev/null | wc -l || true)"
            e2e_log "  ... $part: $((SECONDS - started)) s, ~${done_specs:-0} of $count specs reported"
        fi
    done
    wait "$runner_pid" || rc=$?
    runner_pid=""
    e2e_log "$part: ginkgo exited $rc after $((SECONDS - started)) s"
    [[ $dry_run == 1 ]] || e2e_run_part_done "$report_dir" "$part" "$((SECONDS - started))"
    grep -E '^Ran [0-9]+ of|^(SUCCESS|FAIL)!' "$dir/ginkgo.log" | sed 's/^/    /' || true
    return 0
}

# On 2 cores the parallel part uses $nodes processes; the serial part one. Timeouts are ginkgo's
# for the whole part (each spec has its own in the framework).
if [[ $mode == full ]]; then
    run_part parallel '!Serial && !Disruptive' "$procs" 6h
    run_part serial "$serial_label" 1 6h
else
    run_part parallel '!Serial && !Disruptive' "$procs" 2h
    run_part serial "$serial_label" 1 2h
fi

if [[ $dry_run == 1 ]]; then
    e2e_log "dry run: see $report_dir/*/ginkgo.log for the specs"
    exit 0
fi

# The counts, from the JUnit reports the framework wrote (junit_01.xml per part). Specs that the
# focus/skip/labels left out are in the reports as "skipped" with no reason; they are not counted.
summary="$(python3 - "$report_dir" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
failures = []
for path in sorted(glob.glob(sys.argv[1] + "/*/junit*.xml")):
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "")
        status = case.get("status", "")
        if case.find("failure") is not None or case.find("error") is not None or status in ("failed", "panicked", "interrupted", "timedout", "aborted"):
            failed += 1
            failures.append(name)
        elif not name.startswith("[It]"):
            continue  # suite setup/teardown and report nodes
        elif status == "passed":
            passed += 1
        elif status in ("skipped", "pending"):
            s = case.find("skipped")
            message = (s.get("message", "") if s is not None else "").strip()
            if message not in ("", "skipped"):
                skipped += 1
for name in failures:
    print("FAILED: " + name)
print(f"conformance: {passed} passed, {failed} failed, {skipped} skipped")
PY
)"
grep '^FAILED: ' <<<"$summary" || true
result="$(tail -n1 <<<"$summary")"
e2e_log "reports: $report_dir"
[[ $certify == 1 ]] && e2e_certify "$report_dir" "$certify_dir"
printf '%s\n' "$result"
[[ "$result" == *" 0 failed,"* ]] && [[ "$result" != "conformance: 0 passed, 0 failed"* ]]
exit
}
