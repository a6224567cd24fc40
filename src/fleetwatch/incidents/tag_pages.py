"""A ``tags=`` list page read in the tag's own page order: its cost is the page, not the hub.

A tag page is "the newest incidents carrying the tag", in the list's order (``start_time``
DESC, ``id`` DESC). Every tag relation holds its incident's ``start_time``
(``IncidentTagRelation``), and the index ``tag_page_order`` ``(tag_id, start_time DESC,
incident_id DESC)`` lists a tag's incidents in that order. The page joins the incidents to
that range of the index, ordered and positioned by the relation's copy of the keyset
(``POSITION``), and stops after a page (``LIMIT``): no gathering and sorting of all the tag's
incidents, no walk past the incidents without it, and no ``EXPLAIN`` to choose between the
two (``fastsql.plans.tag_form``, still used when no key can drive: see below).

- One key with one tag (``tags=site=a``): that tag drives.
- Several keys (``site=a,problem=x``: every one must match): the rarest of their tags drives,
  the one with the smallest share of the relations by the planner's statistics, read in the
  same query as the tags' ids (``fastsql.tags.find_tags_with_shares``; without statistics or
  the fast SQL, the first key's). Each other key is an ``EXISTS`` probe of the incidents the
  driver yields (an index probe each), so a page reads about ``page / share of the others``
  relations of the driver.
- A key with several values (``site=a,site=b``: any of them) cannot drive: an incident with
  both would come twice, and two ranges of the index are not one order. It is a probe; when
  every key has several values the incidents' own order is walked (``filterblob.tag_forms``).

The driver's ``start_time`` and ``incident_id`` are its incident's ``start_time`` and ``id``,
so the pages, their order and their cursors are the filterset's (``tags_q``), which
``tests/incidents/test_compiled_filters.py`` compares. Plain ORM (``FilteredRelation``): the
same on every database and with the fast SQL off.

Measured (``bench/server_cpu.py``, server CPU per page of 100, web + PostgreSQL backend): see
the fastsql README, "Size".
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, F, FilteredRelation, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from fleetwatch.incidents.filterblob import (
    MATCHES_NOTHING,
    Tag,
    TagsPlan,
    stored_tag_ids,
    tag_forms,
    tags_plan_q,
)
from fleetwatch.incidents.models import IncidentTagRelation

#: The driving relation's columns, as aliases a page is ordered and positioned by: they equal
#: the incident's ``start_time`` and ``id`` (``KeysetCursorPagination(position=...)``).
POSITION = ("page_tag_start_time", "page_tag_incident_id")


@dataclass(frozen=True, slots=True)
class TagPagePlan:
    """A resolved ``tags=``, plain data, so a compiled page can be keyed by it."""

    #: The tag whose relations are walked in page order; None: no key has a single tag.
    driver: int | None = None
    #: The other keys' tag ids: an incident has one of each key's.
    probes: tuple[tuple[int, ...], ...] = ()
    #: Without a driver: the filterset's plan of the tags (its forms walk the incidents).
    walked: TagsPlan = ()

    @property
    def position(self) -> tuple[str, str] | None:
        """What the page is ordered and positioned by, when not the incident's own columns."""
        return POSITION if self.driver is not None else None


def plan(tags: Iterable[Tag]) -> TagPagePlan:
    """How to read the page of ``tags`` (``(key, value)`` pairs): one query, the tag lookup."""
    tags = list(tags)
    single = [key for key in dict.fromkeys(k for k, _ in tags) if _values(tags, key) == 1]
    ids_by_key, shares = stored_tag_ids(tags, shares=len(single) > 1)
    if any(not ids for ids in ids_by_key.values()):
        return TagPagePlan(walked=MATCHES_NOTHING)
    drivers = [ids[0] for ids in ids_by_key.values() if len(ids) == 1]
    if not drivers:
        return TagPagePlan(walked=tag_forms(ids_by_key))
    driver = min(drivers, key=lambda pk: shares.get(pk, 0.0))  # the first of equal shares
    probes = tuple(ids for ids in ids_by_key.values() if ids != (driver,))
    return TagPagePlan(driver=driver, probes=probes)


def _values(tags: list[Tag], key: str) -> int:
    return len({value for k, value in tags if k == key})


def apply(page_plan: TagPagePlan, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """``queryset`` filtered to the incidents with the tags; with a driver, joined to its
    relations (order and position by ``POSITION``: ``TagPagePlan.position``)."""
    if page_plan.driver is None:
        return queryset.filter(tags_plan_q(page_plan.walked))
    driver = _written(page_plan.driver)
    # The join first, then the aliases, so that they name that join (a later filter() on the
    # relation would join it again).
    queryset = (
        queryset.alias(
            page_tag=FilteredRelation("tag_relations", condition=Q(tag_relations__tag_id=driver))
        )
        .filter(page_tag__tag_id=driver)
        .alias(
            **{
                POSITION[0]: F("page_tag__start_time"),
                POSITION[1]: F("page_tag__incident_id"),
            }
        )
    )
    for tag_ids in page_plan.probes:
        any_of = Q()
        for pk in tag_ids:
            any_of |= Q(tag_id=_written(pk))
        relations = IncidentTagRelation.objects.filter(any_of, incident=OuterRef("pk"))
        queryset = queryset.filter(Exists(relations))
    return queryset


def _written(pk: int) -> RawSQL:
    """A tag id written into the SQL text, not passed as a parameter.

    psycopg prepares a statement once it has run twice on a connection
    (``prepare_threshold``), and PostgreSQL then plans it once for any parameter values: for
    ``tag_id = $1``, a tag of average size. A two-key page (a rare tag and one on every
    incident) got a plan that hashed all 1,000,000 relations of the common tag: 470 ms
    instead of 1.3 ms. With the ids in the text each set of tags has its own statement,
    planned for its own tags (its compiled page is keyed by them anyway)."""
    return RawSQL(str(int(pk)), ())
