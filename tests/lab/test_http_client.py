"""The request composer's and mini browser's engine, against a real aiohttp server
outside the lab: so every request also crosses an outbound Wire and is captured."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from lab.clients.browser import Browser, page_resources
from lab.clients.http import HttpClient
from lab.engine import Engine
from lab.model import EndpointNamed
from lab.servers.dns import DnsBackend
from tests.lab.helpers import run

PAGE = b"""<!doctype html><html><head><title>Hi there</title>
<link rel="stylesheet" href="style.css"><link rel="icon" href="fav.ico"></head>
<body><img src="/a.png"><img src="a.png#x"><img src="http://127.0.0.1:1/b.png">
<a href="/two.html">two</a></body></html>"""


@asynccontextmanager
async def outside_site() -> AsyncIterator[int]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html")

    async def css(request: web.Request) -> web.Response:
        return web.Response(text="body{}", content_type="text/css")

    async def png(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG fake", content_type="image/png")

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {"method": request.method, "host": request.host, "body": body.decode(),
             "x": request.headers.get("X-Lab", "")}, status=201)

    app = web.Application()
    app.add_routes([web.get("/", page), web.get("/style.css", css), web.get("/a.png", png),
                    web.route("*", "/echo", echo)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port: int = runner.addresses[0][1]
    try:
        yield port
    finally:
        await runner.cleanup()


def test_a_request_goes_through_an_outbound_wire_with_the_host_the_user_typed() -> None:
    async def main() -> None:
        engine = Engine()
        named: list[EndpointNamed] = []
        engine.capture.subscribe(
            lambda e: named.append(e) if isinstance(e, EndpointNamed) else None)
        async with outside_site() as port:
            node = await engine.add_client("http")
            client = engine.client_object(node.id)
            assert isinstance(client, HttpClient)
            url = f"http://127.0.0.1:{port}/echo"
            result = await client.request("PUT", url, [("X-Lab", "yes")], b"note")
            assert result.ok, result.error
            assert (result.status, result.reason) == (201, "Created")
            assert result.content_type == "application/json"
            assert b'"method": "PUT"' in result.body and b'"x": "yes"' in result.body
            assert f'"host": "127.0.0.1:{port}"'.encode() in result.body  # not the Wire's
            assert result.timing is not None and result.timing.total >= result.timing.first_byte
            again = await client.request("GET", url)
            assert again.timing is not None and again.timing.reused  # keep-alive
            raws = [m.raw for m in engine.capture.messages]
            assert any(r.startswith(b"PUT /echo HTTP/1.1") for r in raws)
            assert any(r.startswith(b"HTTP/1.1 201") for r in raws)
            [conn] = engine.capture.connections.values()  # both requests on one connection
            assert conn.protocol == "http"  # the outbound Wire dissects HTTP
            summaries = [m.summary for m in engine.capture.messages]
            assert summaries == ["PUT /echo", "201 Created", "GET /echo", "201 Created"]
            assert [(e.address, e.node_id) for e in named] == [(conn.client, node.id)]
        await engine.shutdown()

    run(main)


def test_errors_are_sentences_not_exceptions() -> None:
    async def main() -> None:
        engine = Engine()
        client = engine.client_object((await engine.add_client("http")).id)
        assert isinstance(client, HttpClient)
        assert "no URL" in (await client.request("GET", " ")).error
        assert "only http://" in (await client.request("GET", "ftp://x/")).error
        async with outside_site() as port:
            pass  # now nobody listens there
        result = await client.request("GET", f"127.0.0.1:{port}/")
        assert not result.ok and f"127.0.0.1:{port}" in result.error
        await engine.shutdown()

    run(main)


def test_the_browser_fetches_the_page_then_each_resource_once() -> None:
    async def main() -> None:
        engine = Engine()
        async with outside_site() as port:
            browser = engine.client_object((await engine.add_client("browser")).id)
            assert isinstance(browser, Browser)
            page = await browser.load(f"http://127.0.0.1:{port}/")
            assert page.title == "Hi there"
            fetched = {r.url.rsplit("/", 1)[1]: r.status for r in page.resources}
            assert fetched == {"style.css": 200, "a.png": 200, "b.png": 0}
            requests = [m.raw.split(b"\r\n")[0] for m in engine.capture.messages
                        if m.raw.startswith(b"GET ")]
            assert b"GET / HTTP/1.1" in requests and b"GET /style.css HTTP/1.1" in requests
            assert requests.count(b"GET /a.png HTTP/1.1") == 1
            assert browser.history == [f"http://127.0.0.1:{port}/"]
            assert not browser.can_go_back
        await engine.shutdown()

    run(main)


def test_page_resources_resolve_relative_urls_and_skip_links() -> None:
    title, urls = page_resources(PAGE.decode(), "http://h:1/dir/page.html")
    assert title == "Hi there"
    assert urls == ["http://h:1/dir/style.css", "http://h:1/a.png", "http://h:1/dir/a.png",
                    "http://127.0.0.1:1/b.png"]


def test_looking_the_host_up_first_with_the_lab_dns_server() -> None:
    async def main() -> None:
        engine = Engine()
        async with outside_site() as port:
            dns_server = await engine.add_server("dns", port=0)
            backend = engine.server_backend(dns_server.id)
            assert isinstance(backend, DnsBackend)
            backend.add_record("shop", "A", "127.0.0.1")
            client = engine.client_object((await engine.add_client("http")).id)
            assert isinstance(client, HttpClient)
            result = await client.request("POST", f"http://shop.lab.test:{port}/echo",
                                          body=b"hi", dns_server=dns_server.address)
            assert result.status == 201, result.error
            assert json.loads(result.body)["host"] == f"shop.lab.test:{port}"  # Host kept
            assert result.resolved.startswith(
                f"shop.lab.test → 127.0.0.1 (A from {dns_server.address}, ")
            order = [(m.protocol, m.summary.split(" ")[0]) for m in engine.capture.messages]
            assert order == [("dns", "Query"), ("dns", "Response"), ("http", "POST"),
                             ("http", "201")]  # lookup, then connect

            missing = await client.request("GET", f"http://www.nope.lab.test:{port}/",
                                           dns_server=dns_server.address)
            assert missing.error == (f"www.nope.lab.test: no such name (NXDOMAIN from "
                                     f"{dns_server.address})")
            outside = await client.request("GET", f"http://www.nope.test:{port}/",
                                           dns_server=dns_server.address)
            assert outside.error.startswith("www.nope.test: the server refused to look it up")
            by_address = await client.request("GET", f"http://127.0.0.1:{port}/",
                                              dns_server=dns_server.address)
            assert by_address.status == 200 and by_address.resolved == ""
            assert [m.protocol for m in engine.capture.messages].count("http") == 4
            await client.close()
        await engine.shutdown()

    run(main)
