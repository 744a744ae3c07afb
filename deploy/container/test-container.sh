#!/usr/bin/env bash
# make test-container: builds the repository's Dockerfile, unchanged, with
# podman (Debian's; no Docker engine, no registry) and runs the image:
#   (a) under podman's default seccomp profile, --accel iouring,sockmap:
#       serves the pipeline on plain syscalls, reports both fallbacks;
#   (b) --privileged: rrnode probe shows io_uring and sockmap available;
#   (c) two privileged containers on a podman network (198.19.1.0/24),
#       --accel sockmap, payloads over tcp verified, the redirect counted.
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
cleanup() {
	podman rm -f -t 5 rr-a rr-back rr-edge >/dev/null 2>&1 || true
	podman network rm rr-test-net >/dev/null 2>&1 || true
	podman system reset -f >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# crun rejects this host's hybrid cgroups; the host's hard limits are
# below podman's default ulimits.
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
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

# waithealthy NAME: rrnode health inside the container (the HEALTHCHECK's
# command) until it passes.
waithealthy() {
	for _ in $(seq 1 120); do
		if podman exec "$1" rrnode health --addr http://127.0.0.1:8080 >/dev/null 2>&1; then return 0; fi
		sleep 0.5
	done
	podman logs "$1" 2>&1 | tail -20
	fail "$1 did not become healthy"
}
# invoke PORT FILE: the pipeline, its consumer's verdict checked.
invoke() {
	out=$("$work/rrnode" invoke --addr "http://127.0.0.1:$1" producer --data "@$2") || fail "invoke $2: $out"
	case $out in *'"verified":true'*) echo "  $(basename "$2"): $out" ;; *) fail "invoke $2: $out" ;; esac
}
metric() { curl -fsS "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }

step "(a) default seccomp profile, --accel iouring,sockmap"
podman run -d --name rr-a -p 127.0.0.1:18080:8080 localhost/rrnode:test \
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
podman run --rm localhost/rrnode:test probe --json >"$work/probe-a.json"
grep -A2 '"name": "io_uring"' "$work/probe-a.json" | grep -q '"available": false' || fail "(a) probe: io_uring available"
grep -A2 '"name": "sockmap"' "$work/probe-a.json" | grep -q '"available": false' || fail "(a) probe: sockmap available"
podman healthcheck run rr-a 2>/dev/null || fail "(a) HEALTHCHECK failed"
echo "  served on plain syscalls; io_uring ENOSYS and sockmap EPERM logged, rr_accel 0, probe says why; HEALTHCHECK passes"
podman rm -f -t 5 rr-a >/dev/null 2>&1

step "(b) --privileged: rrnode probe --json"
podman run --rm --privileged --user 0 localhost/rrnode:test probe --json >"$work/probe-b.json"
for f in io_uring sockmap; do
	grep -A2 "\"name\": \"$f\"" "$work/probe-b.json" | grep -q '"available": true' || fail "(b) probe: $f not available: $(cat "$work/probe-b.json")"
done
echo "  io_uring and sockmap available"

step "(c) two containers, tcp over a podman network, --accel sockmap"
podman network create --subnet 198.19.1.0/24 rr-test-net >/dev/null
priv=(--privileged --user 0 -v /sys/fs/bpf:/sys/fs/bpf -v "$repo/deploy/container:/etc/rrnode/test:ro")
podman run -d --name rr-back --network rr-test-net --ip 198.19.1.10 "${priv[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/test/back.yaml --accel sockmap --strict-accel >/dev/null 2>>"$work/run.err"
waithealthy rr-back
podman run -d --name rr-edge --network rr-test-net --ip 198.19.1.11 -p 127.0.0.1:18081:8080 "${priv[@]}" localhost/rrnode:test \
	start --config /etc/rrnode/test/edge.yaml --accel sockmap --strict-accel >/dev/null 2>>"$work/run.err"
waithealthy rr-edge
invoke 18081 "$work/1m"
invoke 18081 "$work/64m"
[ "$(metric 18081 'rr_transfers_total{path="tcp",result="ok"}')" = 2 ] || fail "(c) edge did not send 2 transfers over tcp"
redirected=$(metric 18081 rr_sockmap_redirected_bytes_total)
awk -v r="$redirected" 'BEGIN { exit !(r + 0 >= 65000000) }' || fail "(c) the sockmap redirected $redirected bytes, want the payloads' 65000000"
echo "  verified over tcp; the sockmap redirected $redirected bytes"
podman rm -f -t 10 rr-edge rr-back >/dev/null 2>&1
[ ! -e /sys/fs/bpf/rr-container-test ] || fail "(c) pins left in /sys/fs/bpf/rr-container-test after both nodes stopped"
echo "  pins removed by the last node out"

step "done"
