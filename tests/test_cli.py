"""The command line itself: help in every form, and failures a script can read under --json."""

from __future__ import annotations

import orjson

from conftest import lead_rows, write_csv


def test_dash_h_is_help_for_leadshare_and_every_command(cli):
    for args in ((), ("import",), ("leave", "add")):
        short, long = cli(*args, "-h"), cli(*args, "--help")
        assert short.exit_code == 0 and short.stdout == long.stdout and "Usage: leadshare" in short.stdout


def test_leadshare_help_command_shows_the_help_of_leadshare_or_of_a_command(cli):
    assert cli("help").stdout == cli("--help").stdout
    assert cli("help", "import").stdout == cli("import", "--help").stdout
    assert cli("help", "leave", "add").stdout == cli("leave", "add", "--help").stdout
    unknown = cli("help", "imprt")
    assert unknown.exit_code == 2 and unknown.stderr.startswith("leadshare: no command 'imprt' (commands: add, agents,")


def test_a_failing_command_under_json_still_prints_one_json_document(cli):
    cli("init")  # with no ledger at all, a warning line says so first (test_safety)
    result = cli("show", "999", "--json")
    assert result.exit_code == 2
    assert orjson.loads(result.stdout) == {"error": {
        "message": "no lead '999' in leadshare.db",
        "hint": "use the id shown by `leadshare mine` or `leadshare log`, or the lead's external id",
        "exit_code": 2}}
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("leadshare: no lead '999'")


def test_a_usage_error_under_json_is_a_json_document_too(cli):
    result = cli("mine", "--as", "ben", "--json", "--colour")
    assert result.exit_code == 2
    assert orjson.loads(result.stdout) == {"error": {"message": "No such option: --colour",
                                                    "hint": "see `leadshare mine --help`", "exit_code": 2}}


def test_an_import_that_needs_attention_under_json_prints_its_result_not_an_error(cli, tmp_path):
    write_csv(tmp_path / "leads.csv", lead_rows(1) + ["X-1,Nobody,,,facebook,KL,residential"])
    result = cli("import", "leads.csv", "--json")
    assert result.exit_code == 1 and orjson.loads(result.stdout)["rejected"] == 1


def _leadshare(*args: str, cwd) -> "subprocess.CompletedProcess":
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "leadshare", *args], capture_output=True, text=True, cwd=cwd)


def test_a_mistyped_command_from_the_shell_is_named_with_a_suggestion(tmp_path):
    done = _leadshare("--db", "x.db", "mnie", "--as", "jason", cwd=tmp_path)
    assert done.returncode == 2
    assert "No such command 'mnie'" in done.stderr and "Did you mean 'mine'?" in done.stderr


def test_a_ledger_file_named_like_a_command_still_runs_the_command_given(tmp_path, rules):
    write_csv(tmp_path / "leads.csv", lead_rows(3))
    assert _leadshare("--rules", str(rules), "--db", "mine", "import", "leads.csv", cwd=tmp_path).returncode == 0
    shown = _leadshare("--rules", str(rules), "--db", "mine", "mine", "--as", "aisyah", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert (tmp_path / "mine").exists() and isinstance(orjson.loads(shown.stdout), list)


def test_leadshare_run_twice_in_one_process_knows_every_command_both_times(tmp_path, rules, monkeypatch, capsys):
    import sys

    import pytest

    from leadshare import cli

    write_csv(tmp_path / "leads.csv", lead_rows(2))
    for args in (["import", "leads.csv"], ["log", "--json"], ["leave", "list", "--json"]):
        monkeypatch.setattr(sys, "argv", ["leadshare", "--rules", str(rules), *args])
        with pytest.raises(SystemExit) as done:
            cli.main()
        assert done.value.code == 0, capsys.readouterr().err
