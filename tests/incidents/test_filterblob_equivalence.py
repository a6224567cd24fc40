"""One filter engine: on random incidents and random filters, the SQL a filter compiles to
selects exactly the incidents its in-memory evaluation accepts."""

from django.db import transaction
from filterblob_helpers import ACKS, END_TIMES, make_incident
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetwatch.incidents.filterblob import facts_for, intersection, parse_filter, union
from fleetwatch.incidents.models import Event, Incident, Level
from hypothesis_budget import examples

TAG_KEYS = ("host", "site")
TAG_VALUES = ("a", "b", "c")
EVENT_TYPES = ("STA", "END", "CHI", "OTH")
SOURCES = (("nav1", "nav"), ("nav2", "nav"), ("zino1", "zino"))

tags = st.sampled_from([f"{k}={v}" for k in TAG_KEYS for v in TAG_VALUES])
tristate = st.none() | st.booleans()
LEAF_KEYS = {
    # Source ids are indexes into SOURCES, replaced by real pks when the test runs.
    "sourceSystemIds": st.lists(st.integers(0, len(SOURCES) - 1), max_size=2),
    "source_types": st.lists(st.sampled_from(["nav", "zino", "other"]), max_size=2),
    "tags": st.lists(tags, max_size=3),
    "open": tristate,
    "acked": tristate,
    "stateful": tristate,
    "maxlevel": st.none() | st.sampled_from(Level.values),
    "event_types": st.lists(st.sampled_from(Event.Type.values), max_size=2),
    "hide_closed_acked": st.booleans(),
}


def blobs(depth: int = 1) -> st.SearchStrategy[dict]:
    leaf = st.fixed_dictionaries({}, optional=LEAF_KEYS)
    if depth >= 3:
        return leaf
    nested = blobs(depth + 1).filter(lambda blob: not parse_filter(_real(blob, ())).is_empty)
    return st.builds(
        _combine,
        leaf,
        st.none() | st.lists(nested, min_size=1, max_size=3),
        st.none() | nested,
    )


def _combine(leaf: dict, any_: list | None, not_: dict | None) -> dict:
    blob = dict(leaf)
    if any_ is not None:
        blob["any"] = any_
    if not_ is not None:
        blob["not"] = not_
    return blob


def _real(blob: dict, source_pks: tuple[int, ...]) -> dict:
    """The blob with source indexes turned into pks (index + 1 when there are no sources)."""
    blob = dict(blob)
    if "sourceSystemIds" in blob:
        blob["sourceSystemIds"] = [
            source_pks[i] if source_pks else i + 1 for i in blob["sourceSystemIds"]
        ]
    for key in ("any",):
        if key in blob:
            blob[key] = [_real(b, source_pks) for b in blob[key]]
    if "not" in blob:
        blob["not"] = _real(blob["not"], source_pks)
    return blob


incidents = st.lists(
    st.fixed_dictionaries(
        {
            "source": st.integers(0, len(SOURCES) - 1),
            "end": st.sampled_from(END_TIMES),
            "level": st.sampled_from(Level.values),
            "tags": st.lists(st.tuples(st.sampled_from(TAG_KEYS), st.sampled_from(TAG_VALUES))),
            "event_types": st.lists(st.sampled_from(EVENT_TYPES), max_size=3),
            "ack": st.sampled_from(ACKS),
        }
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=incidents, filters=st.lists(blobs(), min_size=1, max_size=6))
def test_sql_and_memory_agree(make_source, drawn, filters):
    with transaction.atomic():
        sources = [make_source(name, type_) for name, type_ in SOURCES]
        source_pks = tuple(s.pk for s in sources)
        stored = [
            make_incident(
                sources[item["source"]], **{k: v for k, v in item.items() if k != "source"}
            )
            for item in drawn
        ]
        pks = [i.pk for i in stored]
        facts = facts_for(pks)
        specs = [parse_filter(_real(blob, source_pks)) for blob in filters]
        for spec in [*specs, union(specs), intersection(specs[:2])]:
            in_sql = set(
                Incident.objects.filter(pk__in=pks).filter(spec.q()).values_list("pk", flat=True)
            )
            in_memory = {pk for pk in pks if spec.matches(facts[pk])}
            assert in_sql == in_memory, spec
        transaction.set_rollback(True)
