#!/usr/bin/env bash
# Makes sure the services the test suite talks to are up on 127.0.0.1: RabbitMQ
# (5672, guest/guest, with rabbitmqctl for per-session vhosts) and PostgreSQL
# (5432, user postgres without a password). Starts them when they are installed
# but stopped; says what is missing otherwise. Idempotent.
#
#   scripts/test-services.sh          (DOCMILL_TEST_RABBITMQ / DOCMILL_TEST_POSTGRES point elsewhere)
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
    for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done
    return 1
}

problems=()
if [ -z "${DOCMILL_TEST_RABBITMQ:-}" ]; then
    if ! port_open 5672; then
        if command -v rabbitmq-server >/dev/null 2>&1; then
            echo "starting RabbitMQ (rabbitmq-server -detached)" >&2
            rabbitmq-server -detached >/dev/null 2>&1 || true
            wait_port 5672 || problems+=("RabbitMQ did not start on 127.0.0.1:5672")
        else
            problems+=("RabbitMQ is not installed: apt-get install rabbitmq-server")
        fi
    fi
    command -v rabbitmqctl >/dev/null 2>&1 || problems+=("rabbitmqctl is missing (the tests make a vhost with it)")
fi
if [ -z "${DOCMILL_TEST_POSTGRES:-}" ]; then
    if ! port_open 5432; then
        if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
            echo "starting PostgreSQL" >&2
            pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >/dev/null 2>&1 || true
            wait_port 5432 || problems+=("PostgreSQL did not start on 127.0.0.1:5432")
        else
            problems+=("PostgreSQL is not installed: apt-get install postgresql, with trust auth for postgres on 127.0.0.1")
        fi
    fi
fi
if ((${#problems[@]})); then
    echo "the test suite needs these services:" >&2
    printf '  - %s\n' "${problems[@]}" >&2
    exit 1
fi
