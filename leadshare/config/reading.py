"""Reading a rules file from disk: its text as UTF-8, refused whole when unreadable or far too big."""

from __future__ import annotations

import re

from leadshare.errors import LeadshareError, RulesError

MAX_CHARS = 5_000_000  # a rules file is a few kilobytes; anything near this is not one
TOO_LARGE = f"the file is larger than {MAX_CHARS // 1_000_000} MB; a rules file is a few kilobytes of YAML"


def read_rules_file(path: str) -> str:
    """The text of the rules file at `path`; LeadshareError when it cannot be read, RulesError when it
    is too large or not UTF-8."""
    hint = "create it (rules.example.yaml shows the format) or point --rules / LEADSHARE_RULES at it"
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CHARS + 1)
    except FileNotFoundError:
        raise LeadshareError(f"rules file {path} not found", hint) from None
    except IsADirectoryError:
        raise LeadshareError(f"rules file {path} is a folder, not a file",
                             "point --rules / LEADSHARE_RULES at the YAML file itself") from None
    except PermissionError:
        raise LeadshareError(f"rules file {path} cannot be read: permission denied",
                             "give your user read access to it") from None
    except OSError as e:
        raise LeadshareError(f"rules file {path} cannot be read: {e.strerror or e}", hint) from None
    if len(data) > MAX_CHARS:
        raise RulesError(path, [(1, TOO_LARGE)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RulesError(path, [(line, "the file is not UTF-8 text; save it as UTF-8")]) from None


def top_key_line(text: str, key: str) -> int:
    """The line of a top-level `key:` in the raw text (1 when absent), for messages about a valid team."""
    m = re.search(rf"^{re.escape(key)}\s*:", text, re.MULTILINE)
    return text.count("\n", 0, m.start()) + 1 if m else 1

