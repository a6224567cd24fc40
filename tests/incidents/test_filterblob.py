"""The stored filter language: validation, the semantics chosen where Argus's engines differ,
and the Fleetwatch ``any``/``not`` extension — each checked in SQL and in memory."""

import pytest
from django.core.exceptions import ValidationError
from filterblob_helpers import make_incident

from fleetwatch.incidents.filterblob import (
    MAX_DEPTH,
    facts_for,
    intersection,
    parse_filter,
    union,
)
from fleetwatch.incidents.models import Event, Incident

STA, END, ACK = Event.Type.INCIDENT_START, Event.Type.INCIDENT_END, Event.Type.ACKNOWLEDGE


def both(spec, incidents):
    """The pks ``spec`` selects in SQL, after checking memory selects the same."""
    pks = [i.pk for i in incidents]
    in_sql = set(Incident.objects.filter(pk__in=pks).filter(spec.q()).values_list("pk", flat=True))
    facts = facts_for(pks)
    in_memory = {pk for pk in pks if spec.matches(facts[pk])}
    assert in_sql == in_memory
    return in_sql


def errors_of(blob) -> dict:
    with pytest.raises(ValidationError) as info:
        parse_filter(blob)
    return info.value.message_dict


@pytest.mark.parametrize(
    ("blob", "key"),
    [
        ({"colour": "red"}, "colour"),
        ({"maxlevel": 0}, "maxlevel"),
        ({"maxlevel": 6}, "maxlevel"),
        ({"maxlevel": True}, "maxlevel"),
        ({"maxlevel": "3"}, "maxlevel"),
        ({"open": "true"}, "open"),
        ({"acked": 1}, "acked"),
        ({"event_types": ["XXX"]}, "event_types"),
        ({"event_types": "STA"}, "event_types"),
        ({"tags": ["nokey"]}, "tags"),
        ({"tags": ["Host=a"]}, "tags"),
        ({"tags": [{"tag": "a=b"}]}, "tags"),
        ({"sourceSystemIds": ["1"]}, "sourceSystemIds"),
        ({"sourceSystemIds": [0]}, "sourceSystemIds"),
        ({"sourceSystemIds": [2**63]}, "sourceSystemIds"),
        ({"source_types": [3]}, "source_types"),
        ({"source_types": ["a\x00"]}, "source_types"),
        ({"hide_closed_acked": "yes"}, "hide_closed_acked"),
        ({"any": []}, "any"),
        ({"any": {"maxlevel": 1}}, "any"),
        ({"any": [{"maxlevel": 1}, {"maxlevel": 9}]}, "any.1.maxlevel"),
        ({"any": [{}]}, "any.0"),
        ({"not": {"tags": []}}, "not"),
        ({"not": {"any": [{"shape": 1}]}}, "not.any.0.shape"),
        ({"not": []}, "not"),
        ([], "filter"),
    ],
)
def test_what_it_does_not_understand_is_refused_by_name(blob, key):
    assert key in errors_of(blob)


def test_every_unknown_key_is_named():
    assert set(errors_of({"colour": 1, "shape": 2, "open": True})) == {"colour", "shape"}


def test_nesting_is_limited():
    blob = {"maxlevel": 3}
    for _ in range(MAX_DEPTH - 1):
        blob = {"not": blob}
    parse_filter(blob)
    messages = errors_of({"not": blob})
    assert any("nest" in m for msgs in messages.values() for m in msgs)


def test_every_argus_key_is_accepted():
    spec = parse_filter(
        {
            "sourceSystemIds": [1, 2],
            "source_types": ["nav"],
            "tags": ["host=a", "host=b", "site=x"],
            "open": True,
            "acked": None,
            "stateful": True,
            "maxlevel": 3,
            "event_types": ["STA", "END"],
            "hide_closed_acked": False,
        }
    )
    assert not spec.is_empty
    assert spec.tags == (("host", frozenset({"a", "b"})), ("site", frozenset({"x"})))


def test_an_empty_filter_matches_nothing(source):
    incidents = [make_incident(source), make_incident(source, end="closed")]
    for blob in ({}, {"tags": [], "open": None, "hide_closed_acked": False}):
        spec = parse_filter(blob)
        assert spec.is_empty
        assert both(spec, incidents) == set()
    assert both(union([]), incidents) == set()
    assert both(intersection([]), incidents) == set()


def test_tags_any_value_of_a_key_and_all_keys(source):
    a = make_incident(source, tags=(("host", "a"), ("site", "x")))
    b = make_incident(source, tags=(("host", "b"), ("site", "x")))
    c = make_incident(source, tags=(("host", "a"),))
    d = make_incident(source, tags=(("host", "a"), ("host", "b"), ("site", "x")))
    spec = parse_filter({"tags": ["host=a", "host=b", "site=x"]})
    assert both(spec, [a, b, c, d]) == {a.pk, b.pk, d.pk}
    # An incident with two matching tag rows is returned once (EXISTS, not a join).
    assert Incident.objects.filter(spec.q()).filter(pk=d.pk).count() == 1


def test_open_false_means_closed_not_stateless(source):
    incidents = {
        end: make_incident(source, end=end) for end in ("stateless", "open", "future", "closed")
    }
    pk = {end: i.pk for end, i in incidents.items()}
    values = list(incidents.values())
    assert both(parse_filter({"open": True}), values) == {pk["open"], pk["future"]}
    assert both(parse_filter({"open": False}), values) == {pk["closed"]}
    assert both(parse_filter({"stateful": False}), values) == {pk["stateless"]}
    assert both(parse_filter({"not": {"open": True}}), values) == {pk["closed"], pk["stateless"]}


def test_acked_means_an_unexpired_ack(source):
    acks = ("none", "forever", "until_future", "expired")
    incidents = {ack: make_incident(source, ack=ack) for ack in acks}
    values = list(incidents.values())
    acked = {incidents["forever"].pk, incidents["until_future"].pk}
    assert both(parse_filter({"acked": True}), values) == acked
    assert both(parse_filter({"acked": False}), values) == {i.pk for i in values} - acked


def test_hide_closed_acked(source):
    closed_acked = make_incident(source, end="closed", ack="forever")
    closed = make_incident(source, end="closed")
    open_acked = make_incident(source, ack="forever")
    stateless_acked = make_incident(source, end="stateless", ack="forever")
    incidents = [closed_acked, closed, open_acked, stateless_acked]
    assert both(parse_filter({"hide_closed_acked": True}), incidents) == {
        closed.pk,
        open_acked.pk,
        stateless_acked.pk,
    }


def test_sources_types_and_level(source, make_source):
    zino = make_source("zino1", "zino")
    a = make_incident(source, level=2)
    b = make_incident(zino, level=4)
    assert both(parse_filter({"sourceSystemIds": [zino.pk]}), [a, b]) == {b.pk}
    assert both(parse_filter({"source_types": ["nav"]}), [a, b]) == {a.pk}
    assert both(parse_filter({"source_types": ["NAV", "zino"]}), [a, b]) == {a.pk, b.pk}
    assert both(parse_filter({"maxlevel": 3}), [a, b]) == {a.pk}


def test_event_types_listing_has_any_such_event_matching_is_the_event(source):
    ended = make_incident(source, event_types=(STA, END))
    started = make_incident(source, event_types=(STA,))
    spec = parse_filter({"event_types": ["END"]})
    assert both(spec, [ended, started]) == {ended.pk}
    facts = facts_for([ended, started])
    assert spec.matches(facts[started.pk], event_type=END)
    assert not spec.matches(facts[ended.pk], event_type=STA)
    assert parse_filter({"not": {"event_types": ["ACK"]}}).matches(facts[ended.pk], STA)


def test_any_and_not_say_host_a_or_b_and_not_level_5(source):
    blob = {
        "any": [{"tags": ["host=a"]}, {"tags": ["host=b"]}],
        "not": {"maxlevel": 5, "not": {"maxlevel": 4}},
    }
    a5 = make_incident(source, tags=(("host", "a"),), level=5)
    a4 = make_incident(source, tags=(("host", "a"),), level=4)
    b1 = make_incident(source, tags=(("host", "b"),), level=1)
    c1 = make_incident(source, tags=(("host", "c"),), level=1)
    assert both(parse_filter(blob), [a5, a4, b1, c1]) == {a4.pk, b1.pk}


def test_profiles_union_and_maintenance_intersection(source):
    a = make_incident(source, tags=(("host", "a"),), level=1)
    b = make_incident(source, tags=(("host", "b"),), level=5)
    host_a, critical = parse_filter({"tags": ["host=a"]}), parse_filter({"maxlevel": 1})
    low = parse_filter({"not": {"maxlevel": 4}})
    assert both(union([host_a, low]), [a, b]) == {a.pk, b.pk}
    assert both(union([host_a, parse_filter({})]), [a, b]) == {a.pk}
    assert both(intersection([host_a, critical]), [a, b]) == {a.pk}
    assert both(intersection([host_a, low]), [a, b]) == set()
    assert both(intersection([critical, parse_filter({})]), [a, b]) == set()


def test_facts_take_three_queries_however_many_incidents(source, django_assert_num_queries):
    incidents = [
        make_incident(source, tags=(("host", str(n)),), event_types=(STA,), ack="forever")
        for n in range(10)
    ]
    with django_assert_num_queries(3):
        facts = facts_for(incidents)
    with django_assert_num_queries(3):
        facts_for(incidents[:1])
    with django_assert_num_queries(2):
        assert facts_for(incidents, with_event_types=False)[incidents[3].pk].event_types == set()
    assert facts[incidents[3].pk].tags == {("host", "3")}
    assert facts[incidents[3].pk].event_types == {STA, ACK}
    assert facts[incidents[3].pk].acked and facts[incidents[3].pk].open


def test_a_nested_filter_lists_in_constant_queries(source):
    """One listing query (EXISTS subqueries, no per-incident work), plus the look-ups of the
    tags' ids (and, with the fast SQL on PostgreSQL, the planner's estimate of how many
    incidents carry them): the same number however many incidents match."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    spec = parse_filter(
        {"any": [{"tags": ["host=a"]}, {"event_types": ["END"]}], "not": {"acked": True}}
    )
    counts = []
    for size in (5, 25):
        while Incident.objects.count() < size:
            make_incident(source, tags=(("host", "a"),))
        with CaptureQueriesContext(connection) as queries:
            assert len(list(Incident.objects.filter(spec.q()))) == size
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 5, counts
