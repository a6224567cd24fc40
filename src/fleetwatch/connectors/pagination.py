"""Shared paginators (the shape of singer-sdk's ``BaseAPIPaginator``): page numbers, offsets,
cursors — each with a page cap and loop detection, so no vendor loop can run forever.

A stream asks ``paginator.current_value`` for the next request, reads the page, and calls
``paginator.advance(page)``. The paginator decides (``has_more``) whether another page
follows and (``get_next``) what it is. ``has_more`` is given by the stream as a callable,
because what ends a listing is the vendor's rule (a short page, ``pagination.pages``, a null
cursor); a 413 "past the last page" is ``paginator.stop()``.

- **Page cap**: after ``max_pages`` pages ``advance`` raises :class:`PaginationError`
  (``cap="error"``, a vendor that never ends a listing is a fault, not a big account), or
  just finishes with ``capped`` set (``cap="stop"``: the caller reads in bounded chunks).
- **Loops**: a cursor the vendor already gave (or one that is not a string) is an error;
  for page numbers and offsets, ``fingerprint`` (e.g. the ids on the page) catches a vendor
  that ignores the page parameter and answers the same full page again.
"""

from collections.abc import Callable, Hashable, Iterator
from typing import Any

from fleetwatch.connectors.http import VendorError

DEFAULT_MAX_PAGES = 10_000


class PaginationError(VendorError):
    """The vendor's paging went wrong: a loop, a garbled cursor, or no end in sight."""


class Paginator[T]:
    def __init__(
        self,
        start_value: T,
        *,
        stream: str,
        has_more: Callable[[Any], bool] | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        cap: str = "error",
        fingerprint: Callable[[Any], Hashable | None] | None = None,
    ) -> None:
        self.current_value = start_value
        self.stream = stream
        self._has_more = has_more
        self.max_pages = max_pages
        self.cap = cap
        self._fingerprint = fingerprint
        self._last_fingerprint: Hashable | None = None
        self.count = 0  # pages read
        self.finished = False
        self.capped = False

    def __iter__(self) -> Iterator[T]:
        """The values to request, one per page, until the paginator finishes."""
        while not self.finished:
            yield self.current_value

    def has_more(self, page: Any) -> bool:
        return True if self._has_more is None else bool(self._has_more(page))

    def get_next(self, page: Any) -> T | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop(self) -> None:
        """The vendor said the listing is over (e.g. MetaAccess's 413)."""
        self.finished = True

    def advance(self, page: Any) -> None:
        """One page was read: finish, or move to the next value."""
        self.count += 1
        if self._fingerprint is not None:
            mark = self._fingerprint(page)
            if mark is not None and mark == self._last_fingerprint:
                raise PaginationError(
                    f"{self.stream}: the vendor answered page {self.current_value!r} with the "
                    "same items as the page before (it ignores paging?)"
                )
            self._last_fingerprint = mark
        if not self.has_more(page):
            self.finished = True
            return
        new = self.get_next(page)
        if new is None:
            self.finished = True
            return
        if new == self.current_value:
            raise PaginationError(f"{self.stream}: loop detected, next page is {new!r} again")
        if self.count >= self.max_pages:
            if self.cap == "stop":
                self.finished = self.capped = True
                return
            raise PaginationError(f"{self.stream} kept paging past page {self.max_pages}")
        self.current_value = new


class PageNumberPaginator(Paginator[int]):
    """``page`` = 1, 2, 3, … (or from ``start_value``)."""

    def __init__(self, start_value: int = 1, **kwargs: Any) -> None:
        super().__init__(start_value, **kwargs)

    def get_next(self, page: Any) -> int:  # noqa: ARG002  (the paginator interface)
        return self.current_value + 1


class OffsetPaginator(Paginator[int]):
    """``offset`` = start, start + size, …"""

    def __init__(self, start_value: int, page_size: int, **kwargs: Any) -> None:
        super().__init__(start_value, **kwargs)
        self.page_size = page_size

    def get_next(self, page: Any) -> int:  # noqa: ARG002  (the paginator interface)
        return self.current_value + self.page_size


class TokenPaginator(Paginator[str | None]):
    """A cursor the vendor hands out (``next_token``): ``token`` picks it from a page; a
    missing/empty one ends the listing; a repeated or non-string one is an error."""

    def __init__(self, token: Callable[[Any], object], **kwargs: Any) -> None:
        super().__init__(None, **kwargs)
        self._token = token
        self._seen: set[str] = set()

    def has_more(self, page: Any) -> bool:
        return bool(self._token(page)) and super().has_more(page)

    def get_next(self, page: Any) -> str:
        token = self._token(page)
        if not isinstance(token, str) or token in self._seen:
            raise PaginationError(f"{self.stream}: the vendor repeated or garbled its cursor")
        self._seen.add(token)
        return token
