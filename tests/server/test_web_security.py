"""Pages carry security headers; a login link cannot log a victim into someone else's
account (issue #11, "Also"). On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import requests
from glaas_fixtures import post_json, record_pipeline


def test_pages_and_twins_carry_security_headers(glaas, make_user, cli_as):
    alice = make_user("alice")
    files = record_pipeline(alice.ws)
    assert cli_as(alice, "register", "-y").returncode == 0
    for path in ("/", f"/artifacts/{files['model']}", f"/api/v1/artifacts/{files['model']}",
                 "/static/glaas.js", "/no/such/page"):  # fmt: skip
        h = requests.get(glaas.url + path, timeout=30).headers
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert h["X-Frame-Options"] == "DENY", path
        csp = h["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def login_link(glaas, user) -> str:  # type: ignore[no-untyped-def]
    return glaas.url + post_json(glaas, user, "/api/v1/web-login", {}).json()["path"]


def signed_in_as(session: requests.Session, glaas) -> str | None:  # type: ignore[no-untyped-def]
    found = re.search(r"signed in as <b>([^<]+)</b>", session.get(glaas.url, timeout=30).text)
    return found.group(1) if found else None


def test_opening_a_login_link_does_not_sign_the_browser_in(glaas, make_user):
    # given: mallory's own login link, sent to a victim
    mallory = make_user("mallory", login=True)
    link = login_link(glaas, mallory)
    victim = requests.Session()
    # when: the victim's browser opens it (a link, an <img>, a redirect: all GETs)
    page = victim.get(link, timeout=30)
    # then: a page that says whose account it is, and no login cookie
    assert page.status_code == 200
    assert f'<b id="login-account">{mallory.name}</b>' in page.text
    assert "glaas_login" not in victim.cookies
    assert signed_in_as(victim, glaas) is None


def test_a_cross_site_post_cannot_complete_the_login(glaas, make_user):
    mallory = make_user("mallory", login=True)
    link = login_link(glaas, mallory)
    # mallory's page auto-submits a form to the link: the victim's browser has no
    # confirm cookie for it (SameSite=Strict), and the Origin is mallory's site
    victim = requests.Session()
    forged = victim.post(link, data={"confirm": "guess"}, headers={"Origin": "https://evil.example"},
                         allow_redirects=False, timeout=30)  # fmt: skip
    assert forged.status_code == 403
    # even with a confirm cookie of the victim's own, a form value that is not it fails
    page = victim.get(link, timeout=30)
    assert page.status_code == 200
    wrong = victim.post(link, data={"confirm": "guess"}, allow_redirects=False, timeout=30)
    assert wrong.status_code == 403
    cross = victim.post(
        link,
        data={"confirm": re.search(r'name="confirm" value="([^"]+)"', page.text).group(1)},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
        timeout=30,
    )
    assert cross.status_code == 403
    assert "glaas_login" not in victim.cookies and signed_in_as(victim, glaas) is None
    # and the link is still good for its owner, once
    owner = requests.Session()
    page = owner.get(link, timeout=30)
    confirm = re.search(r'name="confirm" value="([^"]+)"', page.text).group(1)
    done = owner.post(link, data={"confirm": confirm}, headers={"Origin": glaas.url},
                      allow_redirects=False, timeout=30)  # fmt: skip
    assert done.status_code == 303 and "glaas_login" in owner.cookies
    assert signed_in_as(owner, glaas) == mallory.name
    again = requests.Session()
    assert again.get(link, timeout=30).status_code == 404


def test_what_was_asked_is_echoed_without_control_characters(glaas):
    # given: a search and a diff that quote the asked text back, holding ESC and a newline
    for path in ("/?q=%1b%5b31mred%0aline", "/diff?a=%1b%5b31mred&b=deadbeefdeadbeef"):
        page = requests.get(glaas.url + path, timeout=30)
        # then: the page's text says it as a terminal would show it (display.printable);
        # only the form's input keeps what was typed, as an attribute value
        text = re.sub(r'value="[^"]*"', "", page.text)
        assert "\x1b" not in text, (path, text)
        assert "\\e[31mred" in text, (path, text)
