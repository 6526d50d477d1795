"""Credentials never reach public output: the user and password of a URL are replaced before text
or data built from the repository is published (status.json, pages and feeds, findings printed in
public CI logs, ingestion failures). One function for every output. Pure.
"""

from __future__ import annotations

import re

# scheme://user:password@ or scheme://token@ : what comes before an "@" in the authority part
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]+@")


# What every URL with credentials holds: a quick test for long text (False: nothing to redact).
_AUTHORITY_AT = re.compile(r"://[^/?#@\s]+@")


def may_have_credentials(text: str) -> bool:
    return _AUTHORITY_AT.search(text) is not None


def has_credentials(url: str) -> bool:
    return _USERINFO.search(url) is not None


def redact(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ***."""
    return _USERINFO.sub(r"\1***@", text) if "@" in text else text


def redact_data(value):
    """A copy of plain data (dicts, lists, strings) with every string redacted; other values as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_data(v) for v in value)
    return value
