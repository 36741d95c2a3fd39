"""Running generated source: the compiled bucket tests, dispatch plans and key functions.

Each generated module defines ``_make(*constants)`` returning the function; the constants
(getters, sets, detectors) are passed in, never written into the source, so the same rule set
gives the same source in every engine. Compiled code is kept per source text for the process
(bounded): engines made again (tests, one engine per tenant in ``icssa correlate``) do not
compile it again.
"""

from __future__ import annotations

from types import CodeType
from typing import Any

MAX_CODE = 4096
_CODE: dict[tuple[str, str], CodeType] = {}


def make(source: str, filename: str, *constants: Any) -> Any:
    """``_make(*constants)`` of the module ``source`` (its code compiled once per process)."""
    code = _CODE.get((source, filename))
    if code is None:
        if len(_CODE) >= MAX_CODE:
            _CODE.clear()
        code = _CODE[(source, filename)] = compile(source, filename, "exec")
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - generated from validated rules
    return namespace["_make"](*constants)
