"""The admin in Debian's Chromium, served by gunicorn with production settings."""

from __future__ import annotations

import psycopg
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from audit.models import Kind
from testsupport.browser import chromium
from testsupport.servers import serve_with_admin

pytestmark = pytest.mark.browser
PASSWORD = "browser-test-pass-1"


@pytest.fixture(scope="module")
def app(throwaway_postgres, collected_static):
    app = serve_with_admin(throwaway_postgres, "browser", PASSWORD)
    url = throwaway_postgres.url("browser")
    with psycopg.connect(url) as conn:
        for name in ("\\uni\\jsmith", "\\uni\\adoe", "\\lab\\kim"):
            conn.execute(
                "INSERT INTO users (username, password_hash) VALUES (%s, '!')", [name]
            )
    yield app, url
    app.stop()


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def test_admin__log_in_list_search_and_block(app, browser):
    server, url = app
    base = f"http://127.0.0.1:{server.port}"
    wait = WebDriverWait(browser, 15)

    browser.get(f"{base}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("\\CORP\\Admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(expected_conditions.title_contains("Staff console"))
    wait.until(lambda b: b.execute_script("return document.readyState") == "complete")

    # The stylesheet loaded and applies: the header has the admin's colour.
    header = browser.execute_script(
        "return getComputedStyle(document.getElementById('header')).backgroundColor"
    )
    assert header not in ("rgba(0, 0, 0, 0)", "transparent")
    sheets = browser.execute_script(
        "return [...document.styleSheets].map(s => s.href).filter(Boolean)"
    )
    assert any("/static/admin/css/base." in href for href in sheets), sheets

    browser.get(f"{base}/admin/accounts/user/")
    rows = wait.until(result_rows)
    assert len(rows) == 4

    search = browser.find_element(By.ID, "searchbar")
    search.send_keys("JSMITH")
    search.submit()
    wait.until(expected_conditions.url_contains("q=JSMITH"))
    rows = wait.until(result_rows)
    assert [r.find_element(By.CSS_SELECTOR, "th").text for r in rows] == [
        "\\uni\\jsmith"
    ]

    rows[0].find_element(By.CSS_SELECTOR, "input.action-select").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("block")
    browser.find_element(By.NAME, "index").click()
    message = wait.until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, ".messagelist")
        )
    )
    assert "Blocked 1 user." in message.text

    with psycopg.connect(url) as conn:
        blocked = conn.execute(
            "SELECT username FROM users WHERE is_blocked ORDER BY username"
        ).fetchall()
    assert blocked == [("\\uni\\jsmith",)]


def result_rows(browser):
    """Return the rows of the change list once the page has rendered it, else False.

    `browser.get()` may return before the list is in the DOM: asserting on an
    immediate `find_elements` failed 2 runs in 11.
    """
    return browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr") or False


def test_audit_trail__chart_totals_match_the_table(app, browser):
    """The events list draws the last week's sign-in outcomes; its totals are the
    rows of each kind the table lists (here all on one page)."""
    server, url = app
    base = f"http://127.0.0.1:{server.port}"
    wait = WebDriverWait(browser, 15)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO auth_events (kind, username, ip, occurred_at) "
            "SELECT k, '\\uni\\jsmith', '192.0.2.1', now() - n * interval '5 hours' "
            "FROM unnest(ARRAY['signin.failed', 'signin.failed', 'signin.failed', "
            "'signin.locked_out', 'signin.succeeded']) WITH ORDINALITY AS t(k, n)"
        )
    browser.get(f"{base}/admin/login/?next=/admin/audit/authevent/")
    if browser.find_elements(By.NAME, "username"):
        browser.find_element(By.NAME, "username").send_keys("\\corp\\admin")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.get(f"{base}/admin/audit/authevent/")
    wait.until(result_rows)
    chart = browser.find_element(By.CSS_SELECTOR, "#signin-chart svg")
    assert chart.is_displayed()
    assert chart.size["width"] > 300
    totals = {
        span.get_attribute("data-kind"): int(
            span.find_element(By.TAG_NAME, "strong").text
        )
        for span in browser.find_elements(By.CSS_SELECTOR, "#signin-chart .chart-total")
    }
    # Every event is within the week and on this one page.
    labels = {str(label): kind for kind, label in Kind.choices}
    table = {kind: 0 for kind in totals}
    for row in browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr"):
        kind = labels[row.find_element(By.CSS_SELECTOR, "td.field-kind").text]
        table[kind] = table.get(kind, 0) + 1
    assert totals == {kind: table[kind] for kind in totals}
    assert totals["signin.failed"] >= 3
    # Each series draws as many events as its total says.
    drawn = browser.execute_script(
        "return Object.fromEntries([...document.querySelectorAll("
        "'#signin-chart g.series')].map(g => [g.dataset.kind, "
        "[...g.querySelectorAll('rect title')].reduce("
        "(n, t) => n + Number(t.textContent.split(': ')[1]), 0)]))"
    )
    assert drawn == totals
    # The chart's styles (inline, with the response's CSP nonce) apply.
    colour = browser.execute_script(
        "return getComputedStyle(document.querySelector("
        "'#signin-chart .chart-total')).color"
    )
    assert colour != browser.execute_script(
        "return getComputedStyle(document.querySelector('#signin-chart')).color"
    )


def test_admin_pages__break_no_rule_of_the_content_security_policy(app, browser):
    server, url = app
    base = f"http://127.0.0.1:{server.port}"
    wait = WebDriverWait(browser, 15)
    browser.get_log("browser")  # what earlier tests left
    browser.get(f"{base}/admin/login/")
    if browser.find_elements(By.NAME, "username"):
        browser.find_element(By.NAME, "username").send_keys("\\corp\\admin")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(expected_conditions.title_contains("Staff console"))
    with psycopg.connect(url) as conn:
        (user_id,) = conn.execute(
            "SELECT id FROM users WHERE username = '\\uni\\adoe'"
        ).fetchone()
    for path in (
        "/admin/",
        "/admin/accounts/user/",
        f"/admin/accounts/user/{user_id}/change/",
        "/admin/accounts/user/add/",
        "/admin/audit/authevent/",
        "/admin/password_change/",
    ):
        browser.get(f"{base}{path}")
        wait.until(
            lambda b: b.execute_script("return document.readyState") == "complete"
        )
    refused = [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]
    assert refused == []
