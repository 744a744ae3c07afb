#!/usr/bin/env bash
# make test-container: builds the repository's Dockerfile, unchanged, with
# podman (Debian's; no Docker engine, no registry) and runs the image:
#   (a) under podman's default seccomp profile, --accel iouring,sockmap:
#       serves the pipeline on plain syscalls, reports both fallbacks (log,
#       rr_accel, probe); then two such containers over tcp count them in
#       rr_fallbacks_total, one per transfer;
#   (b) --privileged, and the DaemonSet's capabilities with seccomp
#       unconfined: rrnode probe shows io_uring and sockmap available;
#   (c) two privileged containers on a podman network (198.19.1.0/24),
#       --accel sockmap, payloads over tcp verified, the redirect counted;
#   (d) a third container with another key is refused by the HELLO and
#       counted, and nothing reaches a guest;
#   (e) a cluster: three containers sharing one --network-alias, which
#       the network's DNS (aardvark-dns) resolves to all of them as a
#       headless Service's name resolves to its pods: the edge finds the
#       two back replicas, the pipeline splits across them, verified;
#       one back stopped, the other takes its share;
#   (f) the shm path: two containers of this host sharing a socket
#       directory, under podman's default seccomp profile (Docker's,
#       in substance), --accel shm --strict-accel: the edge copies each
#       payload straight into back's transform's memory, verified and
#       counted.
# Every node gets its keys and token as the DaemonSet does, from a
# read-only mount at /etc/rrnode/auth (made here with rrnode keygen); the
# image refuses to start without them.
# Base images cannot be pulled here: debootstrap makes a Debian one and the
# machine's Go toolchain is added to it as golang:1.26. Everything lives
# under a temporary directory, removed at the end. Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
work=$(mktemp -d /tmp/rr-container.XXXXXX)
export CONTAINERS_CONF=$work/containers.conf CONTAINERS_STORAGE_CONF=$work/storage.conf
step() { printf '\ntest-container: [%ss] %s\n' "$SECONDS" "$*"; }
fail() { echo "test-container: FAIL: $*" >&2; exit 1; }
# podman's default network (the image build's RUN steps use it) leaves its
# bridge on the host: removed at the end if this test made it.
bridge_before=$(ip link show podman0 >/dev/null 2>&1 && echo yes || echo no)
cleanup() {
	podman rm -f -t 5 rr-a rr-back rr-edge rr-stranger rr-back1 rr-back2 rr-shm-back rr-shm-edge >/dev/null 2>&1 || true
	podman network rm rr-test-net >/dev/null 2>&1 || true
	podman system reset -f >/dev/null 2>&1 || true
	if [ "$bridge_before" = no ]; then ip link del podman0 >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
# podman tries to set up a systemd timer for the image's HEALTHCHECK and
# logs an error for each container where there is no systemd (here); the
# test runs the check itself (podman healthcheck run). Only those lines are
# dropped from podman's stderr.
podman() { command podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }

# crun rejects this host's hybrid cgroups; the host's hard limits are
# below podman's default ulimits.
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
[network]
# netavark with aardvark-dns: containers of a network resolve each other's
# names and aliases (step e).
network_backend = "netavark"
CONF
cat > "$work/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$work/storage"
runroot = "$work/run"
CONF

step "base image: debootstrap --variant=minbase bookworm"
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
debootstrap --variant=minbase bookworm "$work/rootfs" "${mirror:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 ||
	{ tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
tar -C "$work/rootfs" -c . | podman import - localhost/debian:bookworm >/dev/null
rm -rf "$work/rootfs"

step "golang:1.26 = that base + this machine's Go ($(go version | cut -d' ' -f3))"
mkdir -p "$work/go"
cp -a "$(go env GOROOT)" "$work/go/go"
cat > "$work/go/Containerfile" <<CONF
FROM localhost/debian:bookworm
COPY go /usr/local/go
ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GOPATH=/go
WORKDIR /go
CONF
podman build -q --pull=never -t docker.io/library/golang:1.26 "$work/go" >/dev/null
rm -rf "$work/go"

step "podman build (the repository's Dockerfile; CA certificates mounted for the module download)"
podman build --pull=never --format docker -v /etc/ssl/certs:/etc/ssl/certs:ro \
	--build-arg GOPROXY="$(go env GOPROXY)" -t localhost/rrnode:test "$repo" >"$work/build.log" 2>&1 ||
	{ tail -30 "$work/build.log"; fail "podman build"; }
podman image inspect localhost/rrnode:test --format 'image: {{.Size}} bytes, user {{.Config.User}}, healthcheck {{.Config.Healthcheck.Test}}'

go build -o "$work/rrnode" ./cmd/rrnode
head -c 1000000 /dev/urandom >"$work/1m"
head -c 64000000 /dev/urandom >"$work/64m"

# waithealthy NAME: rrnode health --ready inside the container until it
# passes: the functions are loaded and every listener serves (rrnode
# health, the HEALTHCHECK's command, passes earlier: the process is alive).
waithealthy() {
	for _ in $(seq 1 120); do
		if podman exec "$1" rrnode health --ready --addr http://127.0.0.1:8080 >/dev/null 2>&1; then return 0; fi
		sleep 0.5
	done
	podman logs "$1" 2>&1 | tail -20
	fail "$1 did not become healthy"
}
# The cluster's keys and the ingress token, as the DaemonSet's Secret
# holds them, readable by the image's uid 65532; and a stranger's key.
mkdir -m 0755 "$work/auth" "$work/stranger"
podman run --rm --network none localhost/rrnode:test keygen >"$work/auth/keys"
podman run --rm --network none localhost/rrnode:test keygen >"$work/auth/token"
podman run --rm --network none localhost/rrnode:test keygen >"$work/stranger/keys"
cp "$work/auth/token" "$work/stranger/token"
chmod 0644 "$work/auth/"* "$work/stranger/"*
grep -Eqx '[0-9a-f]{64}' "$work/auth/keys" || fail "rrnode keygen printed '$(cat "$work/auth/keys")', want 64 hex digits"
[ "$(cat "$work/auth/keys")" != "$(cat "$work/stranger/keys")" ] || fail "rrnode keygen printed the same key twice"
auth=(-v "$work/auth:/etc/rrnode/auth:ro")

# invoke PORT FILE: the pipeline, its consumer's verdict checked.
invoke() {
	out=$("$work/rrnode" invoke --token-file "$work/auth/token" --addr "http://127.0.0.1:$1" producer --data "@$2") || fail "invoke $2: $out"
	case $out in *'"verified":true'*) echo "  $(basename "$2"): $out" ;; *) fail "invoke $2: $out" ;; esac
}
metric() { curl -fsS "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
# metric_sum PORT NAME LABEL...: the sum of NAME's samples whose labels
# include every LABEL (rr_transfers_total has a mechanism label besides).
metric_sum() {
	port=$1 name=$2
	shift 2
	curl -fsS "http://127.0.0.1:$port/metrics" | awk -v n="$name" -v ls="$*" '
		index($1, n "{") == 1 { k = split(ls, want, " "); ok = 1; for (i = 1; i <= k; i++) if (!index($1, want[i])) ok = 0; if (ok) s += $2 }
		END { print s + 0 }'
}
# probed FILE FEATURE AVAILABLE [REASON]: the feature's row in rrnode probe
# --json output says available (true/false) and, when given, the reason.
probed() {
	row=$(grep -A3 "\"name\": \"$2\"" "$1")
	grep -q "\"available\": $3" <<<"$row" || return 1
	[ -z "${4:-}" ] || grep -q "\"reason\": \"[^\"]*$4" <<<"$row"
}

# Every container is on this network or on none.
podman network create --subnet 198.19.1.0/24 rr-test-net >/dev/null

step "the image's default config without keys and token: refused, naming the fix"
if podman run --rm --network rr-test-net localhost/rrnode:test start --config /etc/rrnode/rrnode.yaml >"$work/nokeys.log" 2>&1; then
	fail "the image started without /etc/rrnode/auth: $(cat "$work/nokeys.log")"
fi
grep -q 'node.auth.keys' "$work/nokeys.log" || fail "the refusal does not name node.auth.keys: $(cat "$work/nokeys.log")"
echo "  $(grep -m1 'node.auth.keys' "$work/nokeys.log" | cut -c1-200)"

step "(a) default seccomp profile, --accel iouring,sockmap"
podman run -d --name rr-a --network rr-test-net -p 127.0.0.1:18080:8080 "${auth[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/rrnode.yaml --accel iouring,sockmap >/dev/null 2>"$work/run.err"
waithealthy rr-a
invoke 18080 "$work/1m"
invoke 18080 "$work/64m"
logs=$(podman logs rr-a 2>&1)
grep -q 'io_uring refused.*reason=ENOSYS' <<<"$logs" || fail "(a) no io_uring fallback (ENOSYS) in the log: $logs"
grep -q 'sockmap refused.*reason=EPERM' <<<"$logs" || fail "(a) no sockmap fallback (EPERM) in the log: $logs"
for a in iouring sockmap; do
	[ "$(metric 18080 "rr_accel{accel=\"$a\"}")" = 0 ] || fail "(a) rr_accel{accel=\"$a\"} is not 0"
done
podman run --rm --network none localhost/rrnode:test probe --json >"$work/probe-a.json"
probed "$work/probe-a.json" io_uring false ENOSYS || fail "(a) probe: io_uring not refused with ENOSYS: $(cat "$work/probe-a.json")"
probed "$work/probe-a.json" sockmap false EPERM || fail "(a) probe: sockmap not refused with EPERM: $(cat "$work/probe-a.json")"
podman healthcheck run rr-a || fail "(a) HEALTHCHECK failed"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary x http://127.0.0.1:18080/v1/functions/producer)
[ "$code" = 401 ] || fail "(a) an invocation without the token got $code, want 401"
[ "$(metric_sum 18080 rr_auth_failures_total 'path="http"')" = 1 ] || fail "(a) the refused invocation is not counted in rr_auth_failures_total{path=\"http\"}"
echo "  without the token: 401, counted"
echo "  served on plain syscalls; io_uring ENOSYS and sockmap EPERM logged, rr_accel 0, probe says why; HEALTHCHECK passes"
# The image's default config keeps node.drain_delay's default (5 s): the
# stop waits that out, then the drain.
podman rm -f -t 20 rr-a >/dev/null 2>&1

conf=(-v "$repo/deploy/container:/etc/rrnode/test:ro" "${auth[@]}")

step "(a) two containers over tcp, default seccomp profile, --accel iouring,sockmap: fallbacks counted"
podman run -d --name rr-back --network rr-test-net --ip 198.19.1.10 "${conf[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/test/back.yaml --accel iouring,sockmap >/dev/null 2>>"$work/run.err"
waithealthy rr-back
podman run -d --name rr-edge --network rr-test-net --ip 198.19.1.11 -p 127.0.0.1:18081:8080 "${conf[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/test/edge.yaml --accel iouring,sockmap >/dev/null 2>>"$work/run.err"
waithealthy rr-edge
invoke 18081 "$work/1m"
invoke 18081 "$work/64m"
[ "$(metric_sum 18081 rr_transfers_total 'path="tcp"' 'result="ok"')" = 2 ] || fail "(a) edge did not send 2 transfers over tcp"
for f in 'accel="iouring",reason="ENOSYS",to="plain"' 'accel="sockmap",reason="EPERM",to="plain"'; do
	got=$(metric 18081 "rr_fallbacks_total{$f}")
	[ "$got" = 2 ] || fail "(a) edge: rr_fallbacks_total{$f} = '$got', want 2 (one per tcp transfer)"
done
echo "  verified over tcp on plain syscalls; rr_fallbacks_total counts both accelerators' fallback per transfer"
podman rm -f -t 10 rr-edge rr-back >/dev/null 2>&1

step "(b) --privileged: rrnode probe --json"
podman run --rm --network none --privileged --user 0 localhost/rrnode:test probe --json >"$work/probe-b.json"
for f in io_uring sockmap; do
	probed "$work/probe-b.json" "$f" true || fail "(b) probe: $f not available: $(cat "$work/probe-b.json")"
done
echo "  io_uring and sockmap available"
# What the DaemonSet asks for instead of privileged: root, no capability
# but these four, seccomp unconfined.
podman run --rm --network none --user 0 --cap-drop all --cap-add BPF,NET_ADMIN,SYS_ADMIN,PERFMON --security-opt seccomp=unconfined \
	localhost/rrnode:test probe --json >"$work/probe-caps.json"
for f in io_uring sockmap; do
	probed "$work/probe-caps.json" "$f" true || fail "(b) probe with the DaemonSet's capabilities: $f not available: $(cat "$work/probe-caps.json")"
done
echo "  and with only CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_PERFMON and seccomp unconfined (the DaemonSet's)"

step "(c) two containers, tcp over a podman network, --accel sockmap"
priv=(--privileged --user 0 -v /sys/fs/bpf:/sys/fs/bpf "${conf[@]}")
podman run -d --name rr-back --network rr-test-net --ip 198.19.1.10 "${priv[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/test/back.yaml --accel sockmap --strict-accel >/dev/null 2>>"$work/run.err"
waithealthy rr-back
podman run -d --name rr-edge --network rr-test-net --ip 198.19.1.11 -p 127.0.0.1:18081:8080 "${priv[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/test/edge.yaml --accel sockmap --strict-accel >/dev/null 2>>"$work/run.err"
waithealthy rr-edge
invoke 18081 "$work/1m"
invoke 18081 "$work/64m"
[ "$(metric_sum 18081 rr_transfers_total 'path="tcp"' 'result="ok"')" = 2 ] || fail "(c) edge did not send 2 transfers over tcp"
redirected=$(metric 18081 rr_sockmap_redirected_bytes_total)
awk -v r="$redirected" 'BEGIN { exit !(r + 0 >= 65000000) }' || fail "(c) the sockmap redirected $redirected bytes, want the payloads' 65000000"
echo "  verified over tcp; the sockmap redirected $redirected bytes"
podman rm -f -t 10 rr-edge rr-back >/dev/null 2>&1
[ ! -e /sys/fs/bpf/rr-container-test ] || fail "(c) pins left in /sys/fs/bpf/rr-container-test after both nodes stopped"
echo "  pins removed by the last node out"

step "(d) a third container with another key: refused by the HELLO, counted, no guest reached"
podman run -d --name rr-back --network rr-test-net --ip 198.19.1.10 -p 127.0.0.1:18083:8080 "${conf[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/test/back.yaml >/dev/null 2>>"$work/run.err"
waithealthy rr-back
podman run -d --name rr-stranger --network rr-test-net --ip 198.19.1.12 -p 127.0.0.1:18082:8080 \
	-v "$repo/deploy/container:/etc/rrnode/test:ro" -v "$work/stranger:/etc/rrnode/auth:ro" localhost/rrnode:test \
	start --config /etc/rrnode/test/edge.yaml >/dev/null 2>>"$work/run.err"
waithealthy rr-stranger
if out=$("$work/rrnode" invoke --token-file "$work/auth/token" --addr http://127.0.0.1:18082 producer --data "@$work/1m" 2>&1); then
	fail "(d) a node with another key reached back: $out"
fi
echo "  the stranger's invocation failed: $(tail -1 <<<"$out" | cut -c1-160)"
[ "$(metric_sum 18083 rr_auth_failures_total 'path="tcp"' 'reason="bad_mac"')" -ge 1 ] ||
	fail "(d) back did not count rr_auth_failures_total{path=\"tcp\",reason=\"bad_mac\"}: $(curl -s http://127.0.0.1:18083/metrics | grep rr_auth)"
[ "$(metric_sum 18082 rr_auth_failures_total 'path="tcp"' 'reason="bad_mac"')" -ge 1 ] ||
	fail "(d) the stranger did not count back's proof as bad_mac"
for f in transform consumer; do
	[ "$(metric_sum 18083 rr_invocations_total "function=\"$f\"")" = 0 ] || fail "(d) back's $f was invoked"
done
podman logs rr-back 2>&1 | grep -q 'authentication failed.*reason=bad_mac' || fail "(d) back logged no refusal: $(podman logs rr-back 2>&1 | tail -5)"
echo "  back counted and logged bad_mac; its transform and consumer never ran"
podman rm -f -t 10 rr-stranger rr-back >/dev/null 2>&1

step "(e) a cluster through the network's DNS: three containers share the alias rr-peers"
podman run -d --name rr-back1 --hostname back1 --network rr-test-net --network-alias rr-peers -p 127.0.0.1:18085:8080 "${conf[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/test/cluster-back.yaml >/dev/null 2>>"$work/run.err"
podman run -d --name rr-back2 --hostname back2 --network rr-test-net --network-alias rr-peers -p 127.0.0.1:18086:8080 "${conf[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/test/cluster-back.yaml >/dev/null 2>>"$work/run.err"
podman run -d --name rr-edge --network rr-test-net --network-alias rr-peers -p 127.0.0.1:18084:8080 "${conf[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/test/cluster-edge.yaml >/dev/null 2>>"$work/run.err"
for c in rr-back1 rr-back2 rr-edge; do waithealthy "$c"; done
# cluster_up PORT N: the node at PORT shows N peers up (rrnode cluster -o json).
cluster_json() { "$work/rrnode" cluster --token-file "$work/auth/token" --addr "http://127.0.0.1:$1" -o json; }
cluster_up() { [ "$(cluster_json "$1" | grep -c '"state": "up"')" = "$2" ]; }
for _ in $(seq 1 120); do cluster_up 18084 2 && break; sleep 0.5; done
cluster_up 18084 2 || fail "(e) the edge does not see both backs up: $(cluster_json 18084)"
"$work/rrnode" cluster --token-file "$work/auth/token" --addr http://127.0.0.1:18084 | sed 's/^/  /'
for i in 1 2 3 4 5 6; do invoke 18084 "$work/1m" >/dev/null; done
invoke 18084 "$work/64m"
c1=$(metric_sum 18085 rr_invocations_total 'function="consumer"' 'result="ok"')
c2=$(metric_sum 18086 rr_invocations_total 'function="consumer"' 'result="ok"')
[ "$((c1 + c2))" = 7 ] || fail "(e) the backs' consumers ran $c1 + $c2 times, want 7"
[ "$(metric_sum 18084 rr_transfers_total 'path="tcp"' 'result="ok"')" -ge 7 ] || fail "(e) the edge did not send its 7 transfers over tcp"
echo "  7 pipelines verified, consumer on back1 $c1 times and on back2 $c2 times"
podman stop -t 10 rr-back1 >/dev/null
for i in 1 2 3 4 5; do invoke 18084 "$work/1m" >/dev/null; done
c2b=$(metric_sum 18086 rr_invocations_total 'function="consumer"' 'result="ok"')
[ "$((c2b - c2))" = 5 ] || fail "(e) after back1 stopped, back2's consumer ran $((c2b - c2)) times, want 5"
for _ in $(seq 1 60); do cluster_up 18084 1 && break; sleep 0.5; done
cluster_up 18084 1 || fail "(e) the edge still sees back1 up: $(cluster_json 18084)"
echo "  back1 stopped: the next 5 pipelines verified on back2; the edge's directory shows it alone"
podman rm -f -t 10 rr-edge rr-back1 rr-back2 >/dev/null 2>&1

step "(f) the shm path: two containers sharing a socket directory, default seccomp profile, --accel shm"
mkdir -m 0700 "$work/sockets"
chown 65532:65532 "$work/sockets" # the image's user, in both containers
shm=(-v "$work/sockets:/var/run/rrnode/sockets" "${conf[@]}")
podman run -d --name rr-shm-back --network rr-test-net -p 127.0.0.1:18087:8080 "${shm[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/test/shm-back.yaml --accel shm --strict-accel >/dev/null 2>>"$work/run.err"
waithealthy rr-shm-back
podman run -d --name rr-shm-edge --network rr-test-net -p 127.0.0.1:18088:8080 "${shm[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/test/shm-edge.yaml --accel shm --strict-accel >/dev/null 2>>"$work/run.err"
waithealthy rr-shm-edge
invoke 18088 "$work/1m"
invoke 18088 "$work/64m"
got=$(metric_sum 18088 rr_transfers_total 'mechanism="shm"' 'path="unix"' 'result="ok"')
[ "$got" = 2 ] || fail "(f) edge sent $got transfers over the shm path, want 2: $(curl -s http://127.0.0.1:18088/metrics | grep -E 'rr_transfers_total|rr_fallbacks_total')"
[ "$(metric_sum 18087 rr_transfers_total 'mechanism="shm"' 'path="unix"')" = 2 ] || fail "(f) back did not receive 2 transfers over the shm path"
[ "$(metric_sum 18088 rr_fallbacks_total 'accel="shm"')" = 0 ] || fail "(f) edge counted shm fallbacks"
[ "$(metric 18088 'rr_accel{accel="shm"}')" = 1 ] || fail "(f) edge: rr_accel{accel=\"shm\"} is not 1"
podman run --rm --network none localhost/rrnode:test probe --json >"$work/probe-f.json"
probed "$work/probe-f.json" shm true || fail "(f) probe: shm not available under the default profile: $(cat "$work/probe-f.json")"
echo "  1 MB and 64 MB verified, each copied once into back's memory (rr_transfers_total{mechanism=\"shm\"} on both), no fallback; probe: shm available"
podman rm -f -t 10 rr-shm-edge rr-shm-back >/dev/null 2>&1

step "done"
