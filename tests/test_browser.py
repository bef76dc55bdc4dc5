"""The admin in Debian's Chromium, served by gunicorn with production settings."""

from __future__ import annotations

import http.cookiejar
import json
import os
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from testsupport.browser import chromium
from testsupport.servers import ROOT, serve_with_admin

pytestmark = pytest.mark.browser
PASSWORD = "browser-test-pass-1"
STUDENT_PASSWORD = "student-test-pass-1"
# The pictures of the README (docs/screenshots: `make screenshots`), else test
# artefacts beside the suite's logs.
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOTS_DIR") or ROOT / ".pytest_cache" / "screenshots"
)


@pytest.fixture(scope="module")
def app(throwaway_postgres, collected_static):
    app = serve_with_admin(
        throwaway_postgres, "browser", PASSWORD, DJANGO_TIME_ZONE="Europe/Berlin"
    )
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


def sign_in(browser, base):
    browser.get(f"{base}/admin/login/")
    if browser.find_elements(By.NAME, "username"):
        browser.find_element(By.NAME, "username").send_keys("\\corp\\admin")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 15).until(
        expected_conditions.title_contains("Staff console")
    )


def api_sign_in(base, username, password) -> int:
    """Sign in through the API as a student's app would; return the status."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(f"{base}/api/auth/csrf", timeout=10) as answer:
        token = json.load(answer)["csrf_token"]
    request = urllib.request.Request(  # noqa: S310 - http:// of the test's server
        f"{base}/api/auth/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    try:
        with opener.open(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def screenshot(browser, name: str) -> None:
    """Save the whole page as `name`.png (the window grown to its height)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(max(height, 720), 2400))
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    browser.set_window_size(1280, 900)


def overflows(browser) -> bool:
    """Whether the page, or a list's table (beside its filter panel), is wider
    than its room: a horizontal scroll bar, or columns hidden."""
    return browser.execute_script(
        "const r = document.querySelector('#changelist-form .results');"
        "return document.documentElement.scrollWidth"
        " > document.documentElement.clientWidth"
        " || (r !== null && r.scrollWidth > r.clientWidth)"
    )


@pytest.fixture(scope="module")
def roster(app):
    """A class of students as an import makes them: names with numbers and
    accents, one blocked, one without a password, one who knows theirs."""
    _server, url = app
    hashed = PBKDF2PasswordHasher().encode(STUDENT_PASSWORD, "browsersalt")
    with psycopg.connect(url) as conn:
        for name, display, password, blocked in [
            ("\\uni\\adavis2", "Ann Davis", "!", False),
            ("\\uni\\adavis10", "Alan Davis", "!", False),
            ("\\uni\\müller", "Jana Müller", "!", False),
            ("\\uni\\tmuller", "Tom Muller", "!", False),
            ("\\uni\\blocked1", "Bea Locked", hashed, True),
            ("\\uni\\locked1", "Lou Locked", hashed, False),
        ]:
            conn.execute(
                "INSERT INTO users (username, display_name, password_hash, is_blocked)"
                " VALUES (%s, %s, %s, %s)",
                [name, display, password, blocked],
            )
        (locked_id,) = conn.execute(
            "SELECT id FROM users WHERE username = '\\uni\\locked1'"
        ).fetchone()
    return locked_id


def cell(row, column):
    return row.find_element(By.CSS_SELECTOR, f"td.field-{column}")


def test_users_list__says_who_cannot_sign_in_and_why(app, browser, roster):
    server, _url = app
    base = f"http://127.0.0.1:{server.port}"
    for _ in range(5):
        assert api_sign_in(base, "\\uni\\locked1", "wrong password") in {401, 429}
    sign_in(browser, base)
    browser.set_window_size(1280, 900)
    browser.get(f"{base}/admin/accounts/user/")
    rows = {
        row.find_element(By.CSS_SELECTOR, "th").text: row
        for row in WebDriverWait(browser, 15).until(result_rows)
    }
    status = {name: cell(row, "can_sign_in").text for name, row in rows.items()}
    assert status["\\uni\\blocked1"] == "No: blocked"
    assert status["\\uni\\adavis2"] == "No: no password"
    assert status["\\uni\\locked1"].startswith("No: locked out until ")
    assert status["\\corp\\admin"] == "Yes"
    # Blocked is a warning, not the green tick of a boolean column.
    icon = cell(rows["\\uni\\blocked1"], "can_sign_in").find_element(By.TAG_NAME, "img")
    assert icon.get_attribute("src").split("/")[-1].startswith("icon-alert.")
    assert (
        cell(rows["\\corp\\admin"], "can_sign_in")
        .find_element(By.TAG_NAME, "img")
        .get_attribute("src")
        .split("/")[-1]
        .startswith("icon-yes.")
    )
    assert cell(rows["\\uni\\müller"], "display_name").text == "Jana Müller"
    # Names with numbers in natural order, as a person counts.
    names = list(rows)
    assert names.index("\\uni\\adavis2") < names.index("\\uni\\adavis10")
    screenshot(browser, "users-list")
    assert not overflows(browser)

    search = browser.find_element(By.ID, "searchbar")
    search.clear()
    search.send_keys("MULLER")
    search.submit()
    WebDriverWait(browser, 15).until(expected_conditions.url_contains("q=MULLER"))
    found = [r.find_element(By.CSS_SELECTOR, "th").text for r in result_rows(browser)]
    assert sorted(found) == ["\\uni\\müller", "\\uni\\tmuller"]


def test_users_page__unlock_then_the_student_signs_in(app, browser, roster):
    server, url = app
    base = f"http://127.0.0.1:{server.port}"
    for _ in range(5):
        api_sign_in(base, "\\uni\\locked1", "wrong password")
    assert api_sign_in(base, "\\uni\\locked1", STUDENT_PASSWORD) == 429
    sign_in(browser, base)
    browser.set_window_size(1280, 900)
    browser.get(f"{base}/admin/accounts/user/{roster}/change/")
    panel = WebDriverWait(browser, 15).until(
        expected_conditions.visibility_of_element_located((By.ID, "lockout"))
    )
    assert "Locked out until" in panel.text
    screenshot(browser, "user-page")
    assert not overflows(browser)
    browser.find_element(By.ID, "unlock-account").click()
    message = WebDriverWait(browser, 15).until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, ".messagelist")
        )
    )
    assert "Cleared 5 failed sign-ins of \\uni\\locked1." in message.text
    assert "Not locked out" in browser.find_element(By.ID, "lockout").text
    assert api_sign_in(base, "\\uni\\locked1", STUDENT_PASSWORD) == 200
    with psycopg.connect(url) as conn:
        (actor,) = conn.execute(
            "SELECT a.username FROM auth_events e JOIN users a ON a.id = e.actor_id"
            " WHERE e.kind = 'signin.unlocked'"
        ).fetchone()
    assert actor == "\\corp\\admin"


def test_events_chart__has_axes_a_scale_a_legend_and_a_table(app, browser):
    server, url = app
    base = f"http://127.0.0.1:{server.port}"
    with psycopg.connect(url) as conn:
        # A spike of failures 30 hours ago, and a month of sign-ins.
        conn.execute(
            "INSERT INTO auth_events (kind, username, ip, occurred_at) "
            "SELECT 'signin.failed', '\\uni\\x', '192.0.2.7', "
            "now() - interval '30 hours' FROM generate_series(1, 40)"
        )
        conn.execute(
            "INSERT INTO auth_events (kind, username, ip, occurred_at) "
            "SELECT 'signin.succeeded', '\\uni\\x', '192.0.2.7', "
            "now() - n * interval '7 hours' FROM generate_series(1, 100) AS n"
        )
    sign_in(browser, base)
    browser.set_window_size(1280, 900)
    browser.get(f"{base}/admin/audit/authevent/")
    WebDriverWait(browser, 15).until(result_rows)
    for name in ("hourly", "daily"):
        figure = browser.find_element(By.ID, f"signin-chart-{name}")
        svg = figure.find_element(By.TAG_NAME, "svg")
        assert svg.size["width"] > 800  # the admin's width, not a strip
        labels = [t.text for t in svg.find_elements(By.CSS_SELECTOR, ".axis text")]
        assert len(labels) >= 4, labels  # a time axis: days (and hours) named
        scale = [t.text for t in svg.find_elements(By.CSS_SELECTOR, ".grid text")]
        assert scale[0] == "0"
        assert len(scale) == 5
        legend = {
            li.get_attribute("data-total-kind"): int(
                li.find_element(By.TAG_NAME, "strong").text
            )
            for li in figure.find_elements(By.CSS_SELECTOR, ".legend li")
        }
        # The table (for screen readers) says the same as the legend.
        figure.find_element(By.TAG_NAME, "summary").click()
        assert figure.find_element(By.CSS_SELECTOR, "details tbody tr").is_displayed()
        # Summed in the page: a WebDriver call for each cell took half a minute.
        sums = browser.execute_script(
            "const rows = arguments[0].querySelectorAll('details tbody tr');"
            "return [0, 1, 2].map(n => [...rows].reduce("
            "(sum, row) => sum + Number(row.querySelectorAll('td')[n].textContent),"
            " 0));",
            figure,
        )
        assert sums == list(legend.values())
        assert legend["signin.failed"] >= 40
        # Every bar's tooltip counts toward its series' total.
        drawn = browser.execute_script(
            "const f = arguments[0]; const t = {};"
            "f.querySelectorAll('rect').forEach(r => { t[r.dataset.kind] ="
            " (t[r.dataset.kind] || 0) + Number(r.textContent.split(' ').pop()); });"
            "return t;",
            figure,
        )
        assert {k: v for k, v in legend.items() if v} == drawn
    # The spike is one tall bar of the week's hours.
    tallest = browser.execute_script(
        "return [...document.querySelectorAll('#signin-chart-hourly"
        ' rect[data-kind="signin.failed"]\')].map(r => r.textContent)'
        ".sort((a, b) => Number(b.split(' ').pop()) - Number(a.split(' ').pop()))[0]"
    )
    assert tallest.endswith(": sign-in failed 40")
    for summary in browser.find_elements(By.CSS_SELECTOR, "#signin-charts summary"):
        summary.click()  # closed again for the picture
    screenshot(browser, "events-chart")
    assert not overflows(browser)
