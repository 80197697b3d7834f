"""`docmill doctor`: what it finds on a working set-up, and the problem and fix it names on broken ones."""

from __future__ import annotations

import json
from pathlib import Path

from ..conftest import Cli


def checks(done: object) -> dict[str, dict[str, object]]:
    report = json.loads(done.stdout)  # type: ignore[attr-defined]
    return {c["check"]: c for c in report["checks"]}


def test_a_working_embedded_set_up_passes_every_check_and_the_model_embeds(cli: Cli, tmp_path: Path) -> None:
    # Given an index made by an ingest
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("The lighthouse keeper's log for the winter of 1911.")
    cli("ingest", str(folder))
    # When the doctor looks
    done = cli("doctor", "--json")
    # Then every check passes, the model embedded a sentence, the store holds the chunk
    found = checks(done)
    assert done.returncode == 0 and json.loads(done.stdout)["problems"] == 0, done.stdout
    assert "embedded a sentence" in str(found["embedder"]["detail"])
    assert "holds 1 chunks" in str(found["store"]["detail"]) and "schema current" in str(found["ledger"]["detail"])
    assert "tesseract" in str(found["ocr"]["detail"]).lower()
    plain = cli("doctor", "--quick")
    assert "everything docmill needs is in place" in plain.stdout and "model not loaded" in plain.stdout


def test_problems_are_listed_with_their_fix_and_no_secret_is_shown(cli: Cli, isolated: Path) -> None:
    token = "paperless-token-that-must-not-show"
    (isolated / "docmill.toml").write_text(
        '[[sources]]\nname = "archive"\ntype = "paperless"\nurl = "https://paperless.example.lan"\n'
        '[[sources]]\nname = "mail"\ntype = "paperless"\nurl = "https://paperless.example.lan"\n')
    env = {"DOCMILL_PLUGINS__TESSERACT__LANGUAGES": "eng+xxq", "DOCMILL_SOURCES__1__TOKEN": token,
           "DOCMILL_LEDGER_URL": "postgresql+psycopg://docmill:db-password-9@127.0.0.1:1/nothing",
           "DOCMILL_BROKER_URL": "amqp://docmill:mq-password-7@127.0.0.1:1/%2F",
           "DOCMILL_PLUGINS__CHROMA__URL": "http://127.0.0.1:1"}
    done = cli("doctor", "--quick", "--json", check=False, env=env)
    assert done.returncode == 1
    found = checks(done)
    assert not found["ocr"]["ok"] and "tesseract-ocr-xxq" in str(found["ocr"]["detail"])
    assert not found["ledger"]["ok"] and "DOCMILL_LEDGER_URL" in str(found["ledger"]["fix"])
    assert not found["broker"]["ok"] and "start RabbitMQ" in str(found["broker"]["fix"])
    assert not found["store"]["ok"] and "127.0.0.1:1" in str(found["store"]["detail"])
    assert "DOCMILL_PLUGINS__CHROMA__URL" in str(found["store"]["fix"])
    assert not found["source archive"]["ok"] and "has no token" in str(found["source archive"]["detail"])
    assert found["source mail"]["ok"] and "token set" in str(found["source mail"]["detail"])
    plain = cli("doctor", "--quick", check=False, env=env)
    assert plain.returncode == 1 and "fix: " in plain.stdout and "problem(s)" in plain.stdout
    for output in (done.stdout, plain.stdout, plain.stderr):
        assert token not in output and "db-password-9" not in output and "mq-password-7" not in output


def test_settings_that_do_not_load_are_the_one_finding(cli: Cli) -> None:
    done = cli("doctor", "--json", check=False, env={"DOCMILL_CHUNK_SIZE": "-4"})
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["settings"] is None and [c["check"] for c in report["checks"]] == ["settings"]
    assert "DOCMILL_CHUNK_SIZE" in report["checks"][0]["detail"]


def test_a_fresh_home_and_a_fresh_database_pass_before_anything_is_ingested(cli: Cli, home: Path,
                                                                            pg_url: str) -> None:
    # A user's first doctor, and a container's health check, come before any ingest: nothing is missing yet
    for _ in range(2):  # the second runs on the home the first (or a store) may have made
        done = cli("doctor", "--quick", "--json", check=False)
        assert done.returncode == 0, done.stdout
        assert checks(done)["ledger"]["ok"] and "first" in str(checks(done)["ledger"]["detail"])
    assert not (home / "ledger.db").exists()  # the doctor looked, and made nothing
    fresh = cli("doctor", "--quick", "--json", check=False, env={"DOCMILL_LEDGER_URL": pg_url})
    assert fresh.returncode == 0 and checks(fresh)["ledger"]["ok"], fresh.stdout
