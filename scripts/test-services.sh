#!/usr/bin/env bash
# Makes sure the services the test suite talks to are up on 127.0.0.1: RabbitMQ
# (5672, guest/guest, with rabbitmqctl for per-session vhosts) and PostgreSQL
# (5432, user postgres without a password, a database named test). Starts them
# when they are installed but stopped. On a machine that has neither (a fresh
# Debian, as root) it installs them with apt-get and sets up only what it
# installed: trust auth for postgres on 127.0.0.1 and the test database.
# Otherwise it says what is missing. Idempotent.
#
#   scripts/test-services.sh          (DOCMILL_TEST_RABBITMQ / DOCMILL_TEST_POSTGRES point elsewhere)
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
    for _ in $(seq 1 90); do port_open "$1" && return 0; sleep 1; done
    return 1
}
apt_install() {
    [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
    echo "installing $* with apt-get (for the test suite)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } \
        >/dev/null 2>&1
}

problems=()
if [ -z "${DOCMILL_TEST_RABBITMQ:-}" ]; then
    if ! command -v rabbitmq-server >/dev/null 2>&1 && ! port_open 5672; then
        apt_install rabbitmq-server || problems+=("RabbitMQ is not installed: apt-get install rabbitmq-server")
    fi
    if ! port_open 5672 && command -v rabbitmq-server >/dev/null 2>&1; then
        echo "starting RabbitMQ (rabbitmq-server -detached)" >&2
        rabbitmq-server -detached >/dev/null 2>&1 || true
        wait_port 5672 || problems+=("RabbitMQ did not start on 127.0.0.1:5672")
    fi
    command -v rabbitmqctl >/dev/null 2>&1 || problems+=("rabbitmqctl is missing (the tests make a vhost with it)")
fi
if [ -z "${DOCMILL_TEST_POSTGRES:-}" ]; then
    installed=""
    if ! [ -d /etc/postgresql ] && ! port_open 5432; then
        if apt_install postgresql; then installed=yes
        else problems+=("PostgreSQL is not installed: apt-get install postgresql, with trust auth for postgres on 127.0.0.1")
        fi
    fi
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
    if [ -n "$installed" ] && [ -n "$version" ]; then
        # Only a server installed just now for the tests: let postgres in from 127.0.0.1 without a password.
        hba=/etc/postgresql/$version/main/pg_hba.conf
        { echo "host all postgres 127.0.0.1/32 trust"; cat "$hba"; } >"$hba.new" && mv "$hba.new" "$hba"
    fi
    if ! port_open 5432 && [ -n "$version" ]; then
        echo "starting PostgreSQL $version" >&2
        pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
        wait_port 5432 || problems+=("PostgreSQL did not start on 127.0.0.1:5432")
    elif [ -n "$installed" ]; then
        pg_ctlcluster --skip-systemctl-redirect "$version" main reload >/dev/null 2>&1 || true
    fi
    if [ -n "$installed" ]; then
        su postgres -c "createdb test" >/dev/null 2>&1 || true
    fi
fi
if ((${#problems[@]})); then
    echo "the test suite needs these services:" >&2
    printf '  - %s\n' "${problems[@]}" >&2
    exit 1
fi
