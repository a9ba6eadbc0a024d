"""certnn bugzoo list / run / show (in process)."""

import json

import pytest
from click.testing import CliRunner

from certnn.cli import cli


def _invoke(*args):
    return CliRunner().invoke(cli, ["bugzoo", *args])


def test_list_table_and_json():
    r = _invoke("list")
    assert r.exit_code == 0 and "camera-projection" in r.output and "PyTorch #75181" in r.output
    doc = json.loads(_invoke("list", "--json").output)
    assert [c["card"] for c in doc] == list(range(1, 16))
    assert {"name", "family", "reports", "contract", "evidence"} <= set(doc[0])


def test_run_one_card_json_last_line():
    r = _invoke("run", "shape-broadcast", "--json", "--no-torch")
    assert r.exit_code == 0, r.output
    last = json.loads(r.output.strip().splitlines()[-1])
    assert {k: last[k] for k in ("cards", "reproduced", "caught", "fixed", "passed")} == \
        {"cards": 1, "reproduced": 1, "caught": 1, "fixed": 1, "passed": 1}
    (res,) = last["results"]
    assert res["buggy"]["failures"] == ["silent-broadcast"] and res["certnn"]["holds"]


def test_run_exits_1_when_a_card_fails(monkeypatch):
    from certnn.bugzoo import tokenizer_boundary as m
    monkeypatch.setattr(m, "fixed", m.buggy)          # certnn "regresses" to the silent clamp
    r = _invoke("run", "4", "--json", "--no-torch")
    assert r.exit_code == 1
    assert json.loads(r.output.strip().splitlines()[-1])["fixed"] == 0


@pytest.mark.parametrize("args", [(), ("3", "--all")])
def test_run_needs_one_card_or_all(args):
    r = _invoke("run", *args)
    assert r.exit_code == 2 and "give one CARD or --all" in r.output


def test_unknown_card_is_one_error_line(capsys):
    from certnn.cli import main
    with pytest.raises(SystemExit) as e:
        main(["bugzoo", "show", "nope"])
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.startswith("error: unknown card 'nope'") and err.count("\n") == 1


def test_show_prints_the_contract_and_the_numbers():
    r = _invoke("show", "9", "--no-torch")
    assert r.exit_code == 0, r.output
    assert "translation validator" in r.output and "buggy: FAILS" in r.output and "certnn: holds" in r.output
    assert "validator: rejected" in r.output
