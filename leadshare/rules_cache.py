"""Validated rules kept between runs, so `mine` or `show` starts without YAML and pydantic.

Validating a rules file costs about 0.2 s (importing pydantic, YAML and the calendars); an agent
runs `mine` many times a day against a file that rarely changes. The validated team is kept in the
user's cache folder under a key made of the file's bytes, where it lives, and the code and
libraries that validated it; any change to one of them validates again. The cache is only a
shortcut: when the folder cannot be written (a cron job without a home) nothing is kept and
nothing fails. It is trusted only when the folder and the entry belong to the user and nobody
else can write them; anything else is ignored and the file validated again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import pickle
import stat
import tempfile
from typing import Callable

from leadshare import models

_FORMAT = b"leadshare-rules-cache 1\n"
# The validators whose code or data decide whether a file is valid and what it means.
_VALIDATORS = ("pydantic", "yaml", "phonenumbers", "holidays", "zoneinfo")
_OWN_CODE = ("models.py", "clock.py", "rules_cache.py")


def load_team(path: str | os.PathLike) -> models.Team:
    """The validated rules at `path`, from the cache when the same file was validated before."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            raw = f.read()
    except OSError:
        return _validated_file(name)  # says why it cannot be read
    return _cached_or_validated(raw, name, lambda: _validated_file(name))


def team_from_text(text: str, name: str) -> models.Team:
    """Validated rules given as text (the rules a ledger holds), named `name` in messages and kept
    like a file's, so an agent reading them from the ledger does not validate them every run."""

    def validated() -> models.Team:
        from leadshare.config import parse_team

        return parse_team(text, name)

    return _cached_or_validated(text.encode("utf-8"), name, validated)


def _validated_file(name: str) -> models.Team:
    from leadshare.config import load_team as validate  # pydantic, YAML, the calendars: only on a miss

    return validate(name)


def _cached_or_validated(raw: bytes, name: str, validate: Callable[[], models.Team]) -> models.Team:
    key = _key(raw, name)
    cached = _read(name, key)
    if cached is not None:
        return cached
    team = validate()  # raises with every problem by line; only a valid team is kept
    if team.content_hash == hashlib.sha256(raw).hexdigest():  # a file not edited meanwhile
        _write(name, key, team)
    return team


def cache_dir() -> str:
    explicit = os.environ.get("LEADSHARE_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "leadshare")


def _key(raw: bytes, name: str) -> bytes:
    h = hashlib.sha256(_FORMAT)
    h.update(raw)
    h.update(name.encode("utf-8", "surrogateescape") + b"\0")  # messages name the file as it was given
    # The file's folder anchors a relative notify.command, and `~` in it is the user's home.
    h.update(os.path.abspath(name).encode("utf-8", "surrogateescape") + b"\0")
    h.update(os.path.expanduser("~").encode("utf-8", "surrogateescape") + b"\0")
    here = os.path.dirname(os.path.abspath(__file__))
    origins = [os.path.join(here, f) for f in _OWN_CODE]
    rules_package = os.path.join(here, "config")
    origins += sorted(os.path.join(rules_package, f) for f in os.listdir(rules_package) if f.endswith(".py"))
    for module in _VALIDATORS:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin:
            origins.append(spec.origin)
    for origin in origins:
        try:
            st = os.stat(origin)
        except OSError:
            continue
        h.update(f"{origin}\0{st.st_size}\0{st.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
    return h.digest()


def _slot(name: str) -> str:
    # One cache file per rules file: editing the rules replaces the entry instead of adding one.
    where = hashlib.sha256(os.path.abspath(name).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return os.path.join(cache_dir(), f"rules-{where}.pickle")


def _read(name: str, key: bytes) -> models.Team | None:
    try:
        if not _trusted(os.stat(cache_dir()), stat.S_ISDIR):
            return None
        with open(_slot(name), "rb") as f:
            if not _trusted(os.fstat(f.fileno()), stat.S_ISREG):
                return None
            blob = f.read()
    except OSError:
        return None
    head = _FORMAT + key
    if not blob.startswith(head):
        return None
    try:
        team = _ModelsOnly(io.BytesIO(blob[len(head):])).load()
    except Exception:  # a damaged or foreign cache file is only a missed shortcut
        return None
    return team if isinstance(team, models.Team) else None


def _write(name: str, key: bytes, team: models.Team) -> None:
    try:
        folder = cache_dir()
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not _trusted(os.stat(folder), stat.S_ISDIR):
            return  # an entry there would be ignored on reading: keep nothing
        blob = _FORMAT + key + pickle.dumps(_with_holidays_near(team), protocol=pickle.HIGHEST_PROTOCOL)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".rules-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, _slot(name))
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


def _with_holidays_near(team: models.Team) -> models.Team:
    """The team with the holidays of the years a command run from the cache is likely to ask
    about, so it needs no calendar package; any other year is still looked up when asked for."""
    from dataclasses import replace

    from leadshare import clock

    this_year = clock.now(team.timezone).year
    return replace(team, holiday_years=clock.holiday_years(team, range(this_year - 1, this_year + 2)))


def _trusted(st: os.stat_result, is_kind: Callable[[int], bool]) -> bool:
    """Owned by this user and writable by nobody else, as ssh treats its keys: an entry another
    user could have written might hold a `notify.command` of their choosing."""
    if not is_kind(st.st_mode) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    geteuid = getattr(os, "geteuid", None)  # no owners to compare where the platform has no uids
    return geteuid is None or st.st_uid == geteuid()


class _ModelsOnly(pickle.Unpickler):
    """Builds nothing but the plain values of `models` and the standard types they hold."""

    _ALLOWED = {
        ("datetime", "date"), ("datetime", "timedelta"),
        ("builtins", "frozenset"), ("builtins", "set"), ("builtins", "dict"), ("builtins", "tuple"),
        ("builtins", "list"), ("copyreg", "_reconstructor"), ("builtins", "object"),
    }

    def find_class(self, module: str, name: str):
        if module == "leadshare.models" and isinstance(getattr(models, name, None), type):
            return getattr(models, name)
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a rules cache")
