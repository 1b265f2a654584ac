"""``Fetcher.get(..., trusted_from=PAGE)``: a page's sub-requests get the page's trust, not their own.

The browser renderer fetches every script and data call of a page this way, so a public
page cannot make policydiff reach loopback or the intranet. 127.0.0.2 plays the public
host (a classifier says so); the request to the server on 127.0.0.1 (loopback) must not
be sent for it.
"""

from __future__ import annotations

import ipaddress

import pytest

from httpserver import LocalServer, Reply
from policydiff.sources.fetch import AddressRefusedError, Fetcher, FetchSettings, address_class


def classify(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return "public" if str(address) == "127.0.0.2" else address_class(address)


def test_sub_request_of_a_public_page_to_loopback_is_refused_unsent() -> None:
    with LocalServer() as server, Fetcher(FetchSettings(retries=0), classify=classify) as fetcher:
        server.route("/data", Reply(body=b"inside"))
        inside = server.url("/data")
        with pytest.raises(AddressRefusedError, match=r"127\.0\.0\.1 is a loopback address"):
            fetcher.get(inside, trusted_from="http://127.0.0.2/page")
        assert server.paths() == []
        # A loopback page trusts its own class: the same request for it is made.
        assert fetcher.get(inside, trusted_from="http://127.0.0.1/page").content == b"inside"
        assert server.paths() == ["/data"]
