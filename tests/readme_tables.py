"""Read the README's reference tables (configuration, command line, routes) as data."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

#: A table cell boundary: a pipe not escaped as ``\|``.
_CELL = re.compile(r"(?<!\\)\|")


def section(text: str, heading: str) -> str:
    """The text under ``## heading`` up to the next heading of the same level."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def table(text: str) -> list[list[str]]:
    """The rows of the first markdown table in ``text``, header and rule left out."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[first + 2 :]:
        if not line.startswith("|"):
            break
        cells = _CELL.split(line.strip())[1:-1]
        rows.append([cell.strip().replace("\\|", "|") for cell in cells])
    return rows


def code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


@dataclass(frozen=True)
class Usage:
    """One ``codesvc ...`` usage as the README writes it."""

    words: tuple[str, ...]  # the command, e.g. ("venue", "revoke")
    options: dict[str, bool]  # option -> required
    positionals: int


def usages(cell: str) -> list[Usage]:
    """Each ``codesvc ...`` code span of a cell, read as a usage line."""
    found = []
    for span in code_spans(cell):
        if not span.startswith("codesvc "):
            continue
        tokens = re.findall(r"\[[^\]]*\]|\S+", span)[1:]
        words: list[str] = []
        options: dict[str, bool] = {}
        positionals = 0
        skip_value = False
        for token in tokens:
            if token.startswith("["):
                options[token.strip("[]").split()[0]] = False
            elif token.startswith("--"):
                options[token] = True
                skip_value = True
            elif skip_value:
                skip_value = False
            elif token.isupper():
                positionals += 1
            else:
                words.append(token)
        found.append(Usage(tuple(words), options, positionals))
    return found


@dataclass(frozen=True)
class Command:
    """One runnable ``codesvc`` command as the parser defines it."""

    words: tuple[str, ...]
    options: dict[str, bool]
    positionals: int


def commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> list[Command]:
    """Every leaf command of ``parser`` with its options (help left out)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if subs:
        return [
            command
            for name, child in subs[0].choices.items()
            for command in commands(child, (*words, name))
        ]
    options = {
        action.option_strings[-1]: bool(action.required)
        for action in parser._actions
        if action.option_strings and not isinstance(action, argparse._HelpAction)
    }
    positionals = sum(1 for action in parser._actions if not action.option_strings)
    return [Command(words, options, positionals)]


#: A route as prose names it: a method, then a path (query, fragment and trailing
#: punctuation are not part of it).
ROUTE = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[^\s`'\"),;?#]*)")
#: A path in a code span with no method before it.
PATH = re.compile(r"`(/(?:v1|staff|static)[^\s`?#]*)")


def path_matches(template: str, written: str) -> bool:
    """Whether ``written`` names ``template``: each ``{param}`` is either written as the
    same ``{param}`` or as a concrete value; every other segment is the same."""
    want, got = template.strip("/").split("/"), written.rstrip(".:").strip("/").split("/")
    if len(want) != len(got):
        return False
    for w, g in zip(want, got, strict=True):
        if w.startswith("{"):
            if (g.startswith("{") and g != w) or not g:
                return False
        elif w != g:
            return False
    return True
