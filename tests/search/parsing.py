"""The parse helper shared by the request-parsing tests."""

from __future__ import annotations

from core.data.catalog import Catalog
from core.search.request import ParsedRequest, SearchState, parse_request


def parse(text: str, catalog: Catalog, previous: SearchState | None = None) -> ParsedRequest:
    return parse_request(text, catalog, previous)
