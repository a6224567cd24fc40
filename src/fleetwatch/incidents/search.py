"""``search=``: the incidents whose description, or one of whose events' descriptions, contains
the text (case-insensitive substring, as Argus), and the SQL forms that find them.

``search_plan`` chooses a form from data (plain and hashable, so a compiled page can be keyed
by it) and ``search_q`` is its condition; every form matches exactly the same incidents
(``tests/incidents/test_search_forms.py``):

- ``plain`` (SQLite, which has no trigram index): ``description LIKE … OR EXISTS (event LIKE
  …)``, walked as the database likes;
- ``index`` (PostgreSQL with the fast SQL off): ``id IN (matching incidents UNION ALL
  incidents of matching events)``, each half answered by its trigram index (migration 0002);
- ``gather`` (few matches): the matching incidents and ``id = ANY(ARRAY(incidents of
  matching events))`` in one bitmap scan of the incidents (the trigram index ORed with the
  primary key), then sorted;
- ``hash`` and ``probe`` (many matches): the page order walked, each incident's description
  checked, and its events looked up in a hash of the incidents of the matching events (few
  such events) or probed per row (many: a word in every tenth incident's events hashed
  100,000 event rows for each page, 98 ms at 1,000,000 incidents; probed, 2.3 ms).

Which one follows the planner's estimates, from one ``EXPLAIN`` (``fastsql.plans``), and so
does the index condition. pg_trgm reads the posting list of every trigram of the text through,
so ``host-4242`` read the lists of ``hos``, ``ost`` and ``st `` that every incident of the
fleet has: 10.8 of its 11.8 ms at 1,000,000 incidents. A text's *parts* — runs of three or
more ASCII letters or digits, with the separators around them, whose trigrams are some of the
text's own — are estimated too, and the index condition asks only for those within
``plans.PART_SPREAD`` of the rarest (``-4242``: 1.3 ms); the whole text is then checked on the
rows found with ``strpos``, which no index answers.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from django.db import connection
from django.db.models import Exists, F, Lookup, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import StrIndex, Upper
from django.db.models.lookups import GreaterThan

from fleetwatch import fastsql
from fleetwatch.fastsql import plans
from fleetwatch.incidents.models import Event, Incident

Form = Literal["plain", "index", "gather", "hash", "probe"]
#: A run of ASCII letters or of ASCII digits: a word for pg_trgm in any locale.
RUN = re.compile(r"[A-Za-z]+|[0-9]+")
#: Shorter runs give pg_trgm no trigram of their own.
MIN_RUN = 3
#: Parts estimated per search at most (the longest runs): each adds two branches to the
#: ``EXPLAIN`` (~0.06 ms each).
MAX_PARTS = 4


@dataclass(frozen=True)
class SearchPlan:
    """How a search is answered: ``form``, and the parts of the text the incident and event
    index conditions ask for (none: the text itself)."""

    form: Form
    incident_parts: tuple[str, ...] = ()
    event_parts: tuple[str, ...] = ()


PLAIN = SearchPlan("plain")
INDEX = SearchPlan("index")


def text_parts(text: str) -> tuple[str, ...]:
    """The longest (at most ``MAX_PARTS``) runs of ``MIN_RUN`` or more ASCII letters or digits
    in ``text``, each with the character on either side that is not a letter or digit, in
    order and once: ``host-4242`` → ``host-``, ``-4242``."""
    runs = [match for match in RUN.finditer(text) if len(match.group()) >= MIN_RUN]
    longest = sorted(runs, key=lambda match: -len(match.group()))[:MAX_PARTS]
    runs = sorted(longest, key=lambda match: match.start())
    parts: list[str] = []
    for match in runs:
        start, end = match.span()
        if start > 0 and not text[start - 1].isalnum():
            start -= 1
        if end < len(text) and not text[end].isalnum():
            end += 1
        if text[start:end].upper() not in (part.upper() for part in parts):
            parts.append(text[start:end])
    return tuple(parts)


def _strpos(field: str, text: str) -> Q:
    """``field`` contains ``text``, case-insensitively as ``icontains``, but in a form that no
    index answers: ``strpos(UPPER(field), UPPER(text)) > 0``."""
    return Q(GreaterThan(StrIndex(Upper(field), Upper(Value(text))), 0))


def _contains(field: str, text: str, parts: tuple[str, ...] = ()) -> Q:
    """``field`` contains ``text`` (case-insensitively); with ``parts``, the index condition
    is theirs and ``text`` is checked by ``strpos`` on the rows they find."""
    if not parts:
        return Q(**{f"{field}__icontains": text})
    q = _strpos(field, text)
    for part in parts:
        q &= Q(**{f"{field}__icontains": part})
    return q


def _incidents(text: str, parts: tuple[str, ...] = ()) -> QuerySet[Any]:
    return Incident.objects.filter(_contains("description", text, parts)).order_by()


def _events(text: str, parts: tuple[str, ...] = ()) -> QuerySet[Any]:
    return Event.objects.filter(_contains("description", text, parts)).order_by()


def _kept(parts: tuple[str, ...], estimates: list[float]) -> tuple[str, ...]:
    return tuple(parts[n] for n in plans.selective_parts(estimates))


def search_plan(text: str) -> SearchPlan:
    """The form for ``text`` on this database; on PostgreSQL with the fast SQL on, from one
    ``EXPLAIN`` of the incidents, the matches of ``text`` and of each of its parts."""
    if connection.vendor != "postgresql":
        return PLAIN
    if not fastsql.postgresql():
        return INDEX
    parts = text_parts(text)
    if len(parts) < 2:
        parts = ()
    total, (incident_rows, event_rows) = plans.contains_estimates(
        [Incident, Event], "description", [text, *parts]
    )
    matches, event_matches = incident_rows[0] + event_rows[0], event_rows[0]
    incident_parts = _kept(parts, incident_rows[1:])
    event_parts = _kept(parts, event_rows[1:])
    if plans.few_matches(matches, event_matches, total):
        return SearchPlan("gather", incident_parts, event_parts)
    if plans.hash_events(matches, event_matches, total):
        return SearchPlan("hash", (), event_parts)
    return SearchPlan("probe")


class _InArray(Lookup[Any]):
    """``lhs = ANY(ARRAY(subquery))``: on the primary key, an index condition that PostgreSQL
    ORs with the trigram index's in one bitmap scan of the incidents; ``pk IN (subquery)`` is
    a join, which looked every gathered match up again by its id (at 1,000,000 incidents
    2.2 ms against 3.7 for 220 matches, 4.9 against 7.5 for 2,220)."""

    lookup_name = "in_array"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)  # "(SELECT …)"
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


def _plain(_plan: SearchPlan, text: str) -> Q:
    in_events = Event.objects.filter(incident=OuterRef("pk"), description__icontains=text)
    return Q(description__icontains=text) | Q(Exists(in_events))


def _index(_plan: SearchPlan, text: str) -> Q:
    events = _events(text).values("incident_id")
    return Q(pk__in=_incidents(text).values("pk").union(events, all=True))


def _gather(plan: SearchPlan, text: str) -> Q:
    events = Subquery(_events(text, plan.event_parts).values("incident_id"))
    return _contains("description", text, plan.incident_parts) | Q(_InArray(F("pk"), events))


def _hash(plan: SearchPlan, text: str) -> Q:
    events = _events(text, plan.event_parts).values("incident_id")
    return Q(description__icontains=text) | plans.hashed_in(events)


def _probe(_plan: SearchPlan, text: str) -> Q:
    # ``incident_id >= id`` (always true) keeps PostgreSQL from hashing instead: it cannot hash
    # a subquery correlated by an inequality. ``strpos``: no trigram index scan per row.
    probed = Event.objects.filter(
        _strpos("description", text), incident=OuterRef("pk"), incident_id__gte=OuterRef("pk")
    )
    return Q(description__icontains=text) | Q(Exists(probed))


_FORMS: dict[Form, Callable[[SearchPlan, str], Q]] = {
    "plain": _plain,
    "index": _index,
    "gather": _gather,
    "hash": _hash,
    "probe": _probe,
}


def search_q(plan: SearchPlan, text: str) -> Q:
    """The condition on incidents that ``plan`` answers ``text`` with."""
    return _FORMS[plan.form](plan, text)
