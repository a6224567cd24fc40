"""drf-spectacular hooks that make the generated schema name the routes as they are served."""

import re

from django.contrib.admindocs.views import simplify_regex

_MARK = "PLUSSIGNMARK"
_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")
# A literal "+" of a route ("open+unacked/"); a regex quantifier follows "]" or ")".
_LITERAL_PLUS = re.compile(r"(?<=\w)\+(?=\w)")


def keep_plus_signs(endpoints: list) -> list:
    """``incidents/open+unacked/`` stays that, not ``openunacked``.

    The path of an operation is derived from its route by Django's ``simplify_regex``, which
    drops ``+`` as a regex quantifier: the schema then named a route that does not exist (a
    404 for every client generated from it).
    """
    fixed = []
    for path, path_regex, method, callback in endpoints:
        if _LITERAL_PLUS.search(path_regex):
            simple = simplify_regex(_LITERAL_PLUS.sub(_MARK, path_regex)).replace(_MARK, "+")
            path = _PARAMETER.sub(r"{\1}", simple)
        fixed.append((path, path_regex, method, callback))
    return fixed


ERROR_ANSWERS = {
    "400": "Invalid input: a JSON object naming each field (or parameter) and its problems",
    "401": "Not authenticated",
    "403": "Not allowed for this user",
    "404": "No such object",
    "413": "Body larger than FLEETWATCH_MAX_BODY_BYTES",
}
_ERROR_BODY = {"application/json": {"schema": {"type": "object", "additionalProperties": {}}}}


def document_error_answers(result: dict, generator, request, public) -> dict:  # noqa: ARG001  (the hook signature)
    """Every operation documents the error answers it can give; they are JSON objects.

    400 everywhere (unknown query parameters are refused on every route), 401/403 where a
    login is needed, 404 where the path names an object, 413 where a body is taken.
    """
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "put", "patch", "post", "delete"}:
                continue
            wanted = ["400"]
            if operation.get("security") != [{}] and operation.get("security") != []:
                wanted += ["401", "403"]
            if "{" in path:
                wanted.append("404")
            if "requestBody" in operation:
                wanted.append("413")
            responses = operation.setdefault("responses", {})
            for code in wanted:
                responses.setdefault(
                    code, {"description": ERROR_ANSWERS[code], "content": _ERROR_BODY}
                )
    _no_email_format(result.get("components", {}))
    return result


def _no_email_format(node: object) -> None:
    """Django's ``EmailField(blank=True)`` answers ``""``, which is no ``format: email``."""
    if isinstance(node, dict):
        if node.get("format") == "email":
            del node["format"]
        for child in node.values():
            _no_email_format(child)
    elif isinstance(node, list):
        for child in node:
            _no_email_format(child)
