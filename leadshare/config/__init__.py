"""The rules file: YAML in, a validated `models.Team` out, every problem reported with its line.

Loading happens in four steps, so that one run of `leadshare rules check` lists everything:

1. compose the YAML into nodes with a safe loader (marks give lines; tags, duplicate keys and
   alias bombs are refused there): `nodes`;
2. turn the nodes into plain Python data, remembering the line of every key and list item: `nodes`;
3. validate that data with strict pydantic models (`schema`, built from the checks in `values` and
   `hours`; unknown keys are errors, `error_mapping` words pydantic's complaints) and cross-check
   it (tiers named by agents exist, ids are unique, ...): `cross_checks`;
4. only when nothing is wrong, convert it into the frozen dataclasses of `leadshare.models`: `build`.

`lint` then warns about gaps in a valid team. Importing this package imports pydantic, YAML and
the calendars: callers on a fast path go through `leadshare.rules_cache` instead.
"""

from __future__ import annotations

import os

from pydantic import ValidationError

from leadshare import models
from leadshare.config.build import build_team
from leadshare.config.cross_checks import cross_checks
from leadshare.config.error_mapping import problem_from_pydantic
from leadshare.config.lint import lint_fields, lint_team
from leadshare.config.nodes import Problem, load_data
from leadshare.config.reading import read_rules_file
from leadshare.config.schema import RulesFile
from leadshare.errors import RulesError

__all__ = ["Problem", "check_rules", "lint_fields", "lint_team", "load_team", "parse_team"]


def load_team(path: str | os.PathLike) -> models.Team:
    """Read and validate the rules file at `path`.

    Raises RulesError listing every problem by line, or LeadshareError when the file cannot be read.
    """
    name = os.fspath(path)
    text = read_rules_file(name)
    return parse_team(text, name)


def parse_team(text: str, path: str = "rules.yaml") -> models.Team:
    """Validate rules given as text; `path` names them in messages and anchors `notify.command`."""
    team, problems = _parse(text, path)
    if problems:
        raise RulesError(path, problems)
    assert team is not None
    return team


def check_rules(path: str | os.PathLike) -> list[Problem]:
    """Every problem of the rules file at `path`, in line order; empty when it is valid.

    A file that cannot be read at all raises LeadshareError (there is nothing to list by line).
    """
    name = os.fspath(path)
    try:
        text = read_rules_file(name)
    except RulesError as e:
        return list(e.problems)
    return _parse(text, name)[1]


def _parse(text: str, path: str) -> tuple[models.Team | None, list[Problem]]:
    """(the team, []) when the text is valid rules, else (None, every problem in line order)."""
    doc, data, problems = load_data(text)
    if doc is None:
        return None, problems
    root: RulesFile | None = None
    try:
        root = RulesFile.model_validate(data)
    except ValidationError as e:
        for err in e.errors(include_url=False):
            loc, problem = problem_from_pydantic(err, doc)
            if any(loc[:i] in doc.reported for i in range(len(loc) + 1)):
                continue
            problems.append(problem)
    problems.extend(cross_checks(data, doc))
    problems = sorted(dict.fromkeys(problems), key=lambda p: p[0])
    if problems or root is None:
        return None, problems
    return build_team(root, doc, text, path), []

