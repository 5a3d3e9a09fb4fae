"""Pydantic's validation errors turned into problems a rules file's author can act on.

Each error gets the line of the key it is about and a message in the file's own terms (`agents[0]:
unknown key 'capcity' (did you mean 'capacity'?)`) instead of pydantic's type names.
"""

from __future__ import annotations

import types
from datetime import date
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from leadshare.config.nodes import Doc, Loc, Problem, at
from leadshare.config.schema import RulesFile
from leadshare.config.values import ChoiceError, not_one_of, shown, suggest


def _unwrap(tp: Any) -> Any:
    """The one type inside Annotated[...] and Optional[...], or None for a real union."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return None
            tp = args[0]
        else:
            return tp


def _keys_at(loc: Loc) -> list[str]:
    """The keys the model at `loc` accepts (for 'did you mean')."""
    tp: Any = RulesFile
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            for name, info in tp.model_fields.items():
                if (info.alias or name) == part:
                    tp = info.annotation
                    break
            else:
                return []
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [info.alias or name for name, info in tp.model_fields.items()]
    return []


_TYPE_MESSAGES = {
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping (key: value)",
    "model_type": "must be a mapping (key: value)",
    "model_attributes_type": "must be a mapping (key: value)",
}


def problem_from_pydantic(err: dict, doc: Doc) -> tuple[Loc, Problem]:
    """One pydantic error as (where, (line, message in the rules file's own words))."""
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    if "[key]" in loc:
        loc = loc[: loc.index("[key]")]
    line = doc.line(loc)
    if kind == "extra_forbidden":
        key = loc[-1]
        return loc, (line, at(loc[:-1], f"unknown key '{key}'{suggest(key, _keys_at(loc[:-1]))}"))
    if kind == "missing":
        return loc, (line, at(loc[:-1], f"'{loc[-1]}' is required"))
    if kind == "value_error" and isinstance(err["ctx"]["error"], ChoiceError):
        error = err["ctx"]["error"]
        return loc, (line, at(loc[:-1], not_one_of(str(loc[-1]), error.value, error.choices)))
    if kind in ("value_error", "assertion_error"):
        return loc, (line, at(loc, str(err["ctx"]["error"])))
    if kind in _TYPE_MESSAGES:
        message = _TYPE_MESSAGES[kind]
        if kind == "string_type" and isinstance(value, (int, float, bool, date)):
            message += f" (got {shown(value)}; put it in quotes)"
        else:
            message += f" (got {shown(value)})"
        return loc, (line, at(loc, message))
    return loc, (line, at(loc, err["msg"]))
