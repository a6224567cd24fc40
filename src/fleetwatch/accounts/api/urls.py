"""Auth endpoints, included at the root of each API version."""

v1_urlpatterns: list = []
v2_urlpatterns: list = []
