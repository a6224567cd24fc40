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
