"""``OPTIONS`` on every route of the URL conf answers 200 with JSON, never a 500.

DRF's metadata looked objects up through ``queryset`` and built serializers from
``serializer_class``; views that have neither (most here) were a 500. The routes come from
the resolver itself, so a route added later is covered without editing this test.
"""

import pytest
from route_helpers import fill, objects, routes

__all__ = ["objects"]  # the fixture, used by name


def test_the_route_list_is_complete():
    found = [route for route, _ in routes()]
    assert len(found) > 50
    assert "api/v2/incidents/<id:pk>/tags/<str:tag>/" in found
    assert "api/v2/incidents/open/" in found


@pytest.mark.parametrize("who", ["superuser", "source", "anonymous"])
def test_options_answers_every_route(who, objects, client_for, superuser, source):
    if who == "anonymous":
        from rest_framework.test import APIClient

        client = APIClient()
    else:
        client = client_for(superuser if who == "superuser" else source.user)
    client.raise_request_exception = False
    failures = []
    for route, _ in routes():
        url = fill(route, objects)
        response = client.options(url)
        # A superuser may see every route; others get a JSON 401/403 where they may not.
        ok = response.status_code == 200 if who == "superuser" else response.status_code < 500
        if not ok:
            failures.append((url, response.status_code, response.content[:200]))
        elif not route.endswith("schema/"):
            assert response["Content-Type"].startswith("application/json"), url
            assert response.json(), url
    assert not failures


def test_options_describes_the_body_of_a_view_with_a_serializer(objects, client_for, superuser):
    response = client_for(superuser).options(f"/api/v2/incidents/{objects['incident']}/tags/")
    assert response.status_code == 200
    assert response.json()["actions"]["POST"]["tag"]["type"] == "string"
