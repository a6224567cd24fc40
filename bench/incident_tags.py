"""Benchmark: the cost of tags, at the cap and beyond it (regression for issue 10).

    python bench/incident_tags.py [--incidents 100] [--huge 10000]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fw_bench python bench/incident_tags.py

Before the cap an incident with 10,000 tags took 7 s to store and, while open, made every
list page 7.7 MB and 0.8 s to render. Now an incident may have at most
``TAGS_PER_INCIDENT_MAX`` (100) tags. Through the API in process (Django's test client, no
server; orjson rendering as served), this prints:

- the time to POST one incident with the maximum number of tags;
- the time and size of an ``open=true`` list page of 100 such incidents (the worst page the
  cap allows) and of a page of 100 two-tag incidents;
- the time to refuse a POST of one incident with ``--huge`` tags (a 400, nothing stored).

Uses DATABASE_URL if set — give it a throwaway database, it is migrated and written to — else
a temporary SQLite file. Prints figures; asserts nothing.
"""

import argparse
import json
import os
import statistics
import tempfile
import time


def timed(function, repeat: int = 5) -> tuple[float, object]:
    """Median seconds of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        begin = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - begin)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100, help="incidents on the list page")
    parser.add_argument("--huge", type=int, default=10_000, help="tags of the refused incident")
    args = parser.parse_args()
    os.environ.setdefault("FLEETWATCH_DATA_DIR", tempfile.mkdtemp(prefix="fw-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    os.environ.setdefault("FLEETWATCH_ALLOWED_HOSTS", "testserver")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from fleetwatch.incidents.limits import TAGS_PER_INCIDENT_MAX
    from fleetwatch.incidents.sources import create_source

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    run = f"{time.time():.0f}"
    counter = iter(range(10**9))

    def client_for(name: str):
        source = create_source(f"bench-tags-{name}-{run}", "bench", create_type=True)
        token, _ = Token.objects.get_or_create(user=source.user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return source, api

    def post(api, tag_count: int):
        n = next(counter)
        body = {
            "start_time": "2026-11-20T10:00:00+00:00",
            "source_incident_id": f"{run}-{n}",
            "description": "tag benchmark",
            "tags": [{"tag": f"k{i % 20}=value-{n}-{i}"} for i in range(tag_count)],
        }
        return api.post("/api/v2/incidents/", body, format="json")

    _, api = client_for("post")
    seconds, response = timed(lambda: post(api, TAGS_PER_INCIDENT_MAX), repeat=9)
    assert response.status_code == 201, response.content[:200]
    print(f"POST one incident with {TAGS_PER_INCIDENT_MAX} tags: {seconds * 1000:8.1f} ms")
    seconds, response = timed(lambda: post(api, args.huge), repeat=3)
    print(
        f"POST one incident with {args.huge} tags: {seconds * 1000:8.1f} ms -> "
        f"{response.status_code} {json.loads(response.content).get('tags')}"
    )

    for tags in (2, TAGS_PER_INCIDENT_MAX):
        source, api = client_for(f"page{tags}")
        for _ in range(args.incidents):
            assert post(api, tags).status_code == 201
        url = f"/api/v2/incidents/?open=true&source__id__in={source.pk}&page_size={args.incidents}"
        seconds, response = timed(lambda url=url, api=api: api.get(url))
        assert response.status_code == 200 and len(response.json()["results"]) == args.incidents
        print(
            f"list page of {args.incidents} open incidents with {tags:3d} tags each: "
            f"{seconds * 1000:8.1f} ms, {len(response.content) / 1e6:6.2f} MB"
        )


if __name__ == "__main__":
    main()
