"""JSON Pointer (RFC 6901): build a pointer from a path, read the value a pointer names.

Form data, validation errors and the hints of a service package (`x-applicant`, `x-fees`) all name
places in a JSON document by pointer; this is the one implementation every app uses.
"""

from __future__ import annotations


def pointer(path) -> str:
    """The pointer of a path of keys and indices: ``["hunde", 0, "rasse"]`` → ``/hunde/0/rasse``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def resolve(data, ptr: str | None):
    """The value at `ptr` in `data`, or None where the pointer leads nowhere (missing key, index out
    of range, a step into a scalar). An empty pointer names the whole document."""
    node = data
    for part in [p for p in (ptr or "").split("/") if p]:
        if isinstance(node, dict):
            node = node.get(part.replace("~1", "/").replace("~0", "~"))
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node
