"""/dashboard over HTTP (no browser): content types, the Content-Security-Policy (own origin
only, nothing inline), caching (the page revalidated, hashed assets immutable), 304s."""

from __future__ import annotations

import re

import httpx

from server.http.dashboard import STATIC_DIR


async def test_page_and_assets_are_served_with_strict_headers(client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["x-content-type-options"] == "nosniff"
    csp = dict(
        (d.split()[0], d.split()[1:]) for d in page.headers["content-security-policy"].split("; ")
    )
    assert csp["default-src"] == ["'none'"]
    for directive in ("script-src", "style-src", "connect-src"):
        assert csp[directive] == ["'self'"], directive  # no other origin, nothing inline
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert "http" not in page.headers["content-security-policy"]
    # nothing inline for the policy to forbid, nothing from another origin
    assert "<style" not in page.text and "<script>" not in page.text
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)

    names = re.findall(r'"/dashboard/assets/([^"]+)"', page.text)
    assert {n.rsplit(".", 1)[1] for n in names} == {"js", "css"}
    for name in names:
        asset = await client.get(f"/dashboard/assets/{name}")
        assert asset.status_code == 200
        kind = {"js": "text/javascript", "css": "text/css"}[name.rsplit(".", 1)[1]]
        assert asset.headers["content-type"] == f"{kind}; charset=utf-8"
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.content == (STATIC_DIR / "assets" / name).read_bytes()
        assert "http://" not in asset.text.replace("http://www.w3.org/", "")
        again = await client.get(
            f"/dashboard/assets/{name}", headers={"If-None-Match": asset.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b""

    revalidated = await client.get("/dashboard", headers={"If-None-Match": page.headers["etag"]})
    assert revalidated.status_code == 304
    head = await client.head("/dashboard")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(page.content))


async def test_only_built_files_are_served(client: httpx.AsyncClient) -> None:
    for path in (
        "/dashboard/assets/missing.js",
        "/dashboard/assets/..%2Findex.html",
        "/dashboard/assets/%2e%2e%2f%2e%2e%2fdashboard.py",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
    slash = await client.get("/dashboard/")
    assert slash.status_code == 308 and slash.headers["location"] == "/dashboard"


async def test_the_page_language_is_negotiated_from_accept_language(
    client: httpx.AsyncClient,
) -> None:
    english = await client.get("/dashboard")
    assert '<html lang="en" data-languages="en ja">' in english.text
    assert english.headers["vary"] == "Accept-Language"
    japanese = await client.get(
        "/dashboard", headers={"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.8"}
    )
    assert '<html lang="ja" data-languages="en ja">' in japanese.text
    assert japanese.headers["etag"] != english.headers["etag"]  # a cache keeps both
    ranked = await client.get("/dashboard", headers={"Accept-Language": "fr, en;q=0.1, ja;q=0.5"})
    assert '<html lang="ja"' in ranked.text
    refused = await client.get("/dashboard", headers={"Accept-Language": "ja;q=0, th"})
    assert '<html lang="en"' in refused.text
    assert japanese.headers["content-security-policy"] == english.headers["content-security-policy"]
    again = await client.get(
        "/dashboard",
        headers={"Accept-Language": "ja", "If-None-Match": japanese.headers["etag"]},
    )
    assert again.status_code == 304


async def test_catalogues_are_served_as_json(client: httpx.AsyncClient) -> None:
    ja = await client.get("/dashboard/i18n/ja.json")
    assert ja.status_code == 200
    assert ja.headers["content-type"] == "application/json"
    assert ja.headers["cache-control"] == "no-cache"
    assert "'self'" in ja.headers["content-security-policy"]
    body = ja.json()
    assert body["locale"] == "ja"
    assert body["messages"]["Projects by phase"] == "段階別プロジェクト数"
    assert body["messages"]["Environment and Energy"] == "環境・エネルギー"
    again = await client.get(
        "/dashboard/i18n/ja.json", headers={"If-None-Match": ja.headers["etag"]}
    )
    assert again.status_code == 304
    en = await client.get("/dashboard/i18n/en.json")
    assert en.json() == {"locale": "en", "messages": {}}
    for path in ("/dashboard/i18n/fr.json", "/dashboard/i18n/..%2Fja.json", "/dashboard/i18n/ja"):
        assert (await client.get(path)).status_code == 404, path
