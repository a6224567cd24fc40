"""Walking an incident list through its cursors, as a client does."""

V2 = "/api/v2/incidents/"


def walk_both_ways(api, query: str, size: int = 4) -> tuple[list[list[int]], list[list[int]]]:
    """The pks of every page of ``GET /api/v2/incidents/?<query>`` forward through ``next``,
    and of every page back through ``previous`` from the last one (each answer a 200)."""
    forward: list[list[int]] = []
    back: list[list[int]] = []
    url, body = f"{V2}?page_size={size}&{query}", {}
    for pages, link in ((forward, "next"), (back, "previous")):
        while url:
            response = api.get(url)
            assert response.status_code == 200, response.json()
            body = response.json()
            pages.append([row["pk"] for row in body["results"]])
            url = body[link]
        url = body["previous"] if link == "next" else ""
    return forward, back


def walk_pages(api, query: str, size: int = 4) -> list[list[int]]:
    """``walk_both_ways`` as one list: the pages forward, then the pages back."""
    forward, back = walk_both_ways(api, query, size)
    return forward + back
