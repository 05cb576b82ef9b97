"""Helpers of the reliability cases (issue 10): the in-process CLI runner and the one-line
error contract."""
from regionprims import cli

SMALL = ["--class", "1", "--seed", "1", "--layout", "2x2", "--steps", "3", "--baseline-codes", "4"]


def run(capsys, *argv):
    """(exit code, stdout, stderr) of one in-process CLI call."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, needle: str = "", exit_code: int = 2) -> None:
    """The contract for a user's mistake or a bad file: exit 2, one line `error: ...`, no traceback."""
    lines = err.strip().splitlines()
    assert code == exit_code, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and len(lines[0]) < 400, err[:500]
    assert needle.lower() in lines[0].lower(), lines[0]
