"""The admin's second factor in Debian's Chromium, with Chrome's virtual
authenticator standing in for a passkey: served by gunicorn with production
settings and DJANGO_MFA_REQUIRED_FOR's default. WebAuthn wants a name, not an
address: the site is http://localhost:<port> (a secure context)."""

from __future__ import annotations

import re
import time

import psycopg
import pytest
from django_otp.oath import TOTP
from selenium.webdriver.common.by import By
from selenium.webdriver.common.virtual_authenticator import (
    VirtualAuthenticatorOptions,
)
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from testsupport.browser import chromium
from testsupport.servers import ADMIN, serve_with_admin

pytestmark = [pytest.mark.browser, pytest.mark.mfa]
PASSWORD = "browser-mfa-pass-1"


@pytest.fixture(scope="module")
def app(throwaway_postgres, collected_static):
    app = serve_with_admin(
        throwaway_postgres,
        "mfa_browser",
        PASSWORD,
        DJANGO_MFA_REQUIRED_FOR="staff,superusers",
    )
    yield app, throwaway_postgres.url("mfa_browser")
    app.stop()


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def authenticator(browser):
    options = VirtualAuthenticatorOptions()
    options.protocol = VirtualAuthenticatorOptions.Protocol.CTAP2
    options.transport = VirtualAuthenticatorOptions.Transport.INTERNAL
    options.has_resident_key = True
    options.has_user_verification = True
    options.is_user_verified = True
    browser.add_virtual_authenticator(options)


def sign_in_with_password(browser, base):
    browser.delete_all_cookies()
    browser.get(f"{base}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys(ADMIN)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def test_staff__enrol_a_passkey_then_sign_in_with_it(app, browser):
    server, url = app
    base = f"http://localhost:{server.port}"
    wait = WebDriverWait(browser, 15)
    authenticator(browser)

    # The password alone leads to enrolment, not to the admin.
    sign_in_with_password(browser, base)
    wait.until(expected_conditions.url_contains("/admin/second-factor/setup/"))
    assert "needs a second factor" in browser.find_element(By.ID, "content").text
    browser.get(f"{base}/admin/accounts/user/")
    assert "/admin/second-factor/" in browser.current_url

    browser.get(f"{base}/admin/second-factor/setup/?next=/admin/")
    browser.find_element(By.ID, "passkey-name").send_keys("Laptop")
    browser.find_element(By.CSS_SELECTOR, "[data-passkey=register]").click()
    codes = wait.until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#passkey-codes li") or False
    )
    assert len(codes) == 10
    assert all(re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", c.text) for c in codes)
    # Enrolling completed the sign-in.
    browser.get(f"{base}/admin/")
    wait.until(expected_conditions.title_contains("Staff console"))

    # A new sign-in: the password, then the passkey.
    sign_in_with_password(browser, base)
    wait.until(expected_conditions.url_contains("/admin/second-factor/"))
    assert "Staff console" not in browser.title
    browser.find_element(By.ID, "use-passkey").click()
    wait.until(expected_conditions.title_contains("Staff console"))

    # Another authenticator (not the one enrolled) does not get in.
    browser.remove_virtual_authenticator()
    authenticator(browser)
    sign_in_with_password(browser, base)
    wait.until(expected_conditions.url_contains("/admin/second-factor/"))
    browser.find_element(By.ID, "use-passkey").click()
    status = wait.until(lambda b: b.find_element(By.ID, "passkey-status").text or False)
    assert status
    browser.get(f"{base}/admin/")
    assert "/admin/second-factor/" in browser.current_url

    with psycopg.connect(url) as conn:
        kinds = [
            kind
            for (kind,) in conn.execute(
                "SELECT kind FROM auth_events WHERE kind LIKE 'mfa.%' ORDER BY id"
            )
        ]
    # Enrolment, its codes, the sign-in it completed, the passkey's sign-in:
    # the other authenticator had no credential to offer (the browser said no).
    assert kinds == [
        "mfa.enrolled",
        "mfa.recovery_codes_new",
        "mfa.verified",
        "mfa.verified",
    ]


def test_staff__add_an_authenticator_app_and_use_its_codes(app, browser):
    server, url = app
    base = f"http://localhost:{server.port}"
    wait = WebDriverWait(browser, 15)
    # Whatever the test before enrolled, this admin starts with no factor.
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM mfa_passkeys")
        conn.execute("DELETE FROM mfa_recovery_code_sets")
    sign_in_with_password(browser, base)
    wait.until(expected_conditions.url_contains("/admin/second-factor/setup/"))

    browser.find_element(By.ID, "id_totp_name").send_keys("Phone")
    browser.find_element(By.CSS_SELECTOR, "#start-totp input[type=submit]").click()
    qr = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#totp-qr svg") or False)
    assert qr[0].size["width"] >= 100
    secret = browser.find_element(By.ID, "totp-secret").text
    totp = TOTP(_b32(secret))
    totp.time = time.time()
    browser.find_element(By.ID, "id_code").send_keys(f"{totp.token():06d}")
    browser.find_element(By.CSS_SELECTOR, "#new-totp input[type=submit]").click()
    codes = wait.until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#new-recovery-codes li") or False
    )
    assert len(codes) == 10
    recovery = codes[0].text
    browser.get(f"{base}/admin/")
    wait.until(expected_conditions.title_contains("Staff console"))

    # A recovery code signs in once.
    sign_in_with_password(browser, base)
    wait.until(expected_conditions.url_contains("/admin/second-factor/"))
    browser.find_element(By.NAME, "code").send_keys(recovery)
    browser.find_element(By.CSS_SELECTOR, "#code-form input[type=submit]").click()
    wait.until(expected_conditions.title_contains("Staff console"))
    sign_in_with_password(browser, base)
    wait.until(expected_conditions.url_contains("/admin/second-factor/"))
    browser.find_element(By.NAME, "code").send_keys(recovery)
    browser.find_element(By.CSS_SELECTOR, "#code-form input[type=submit]").click()
    error = wait.until(
        lambda b: b.find_elements(By.CSS_SELECTOR, ".errornote") or False
    )
    assert "not right" in error[0].text
    assert "Staff console" not in browser.title


def _b32(secret: str) -> bytes:
    from base64 import b32decode

    return b32decode(secret + "=" * (-len(secret) % 8))
