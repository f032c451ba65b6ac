"""Small assertions shared by several test files (importable: tests/ is on sys.path)."""


def one_error_line(stderr: str) -> str:
    """The single ``blurvid: error: ...`` line of a CLI run; fails on tracebacks or several."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr
    errors = [ln for ln in lines if ln.startswith("blurvid: error:")]
    assert len(errors) == 1, stderr
    return errors[0]
