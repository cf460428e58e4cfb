"""Driving the web UI in headless Chromium: sign in, wait for Dash, fill Dash inputs and
dropdowns, check for console and callback errors, and send a page's callback by hand (the
forged requests the server must refuse), all as the signed-in browser session.

    sign_in(browser, web_url, name)
    visit(browser, web_url + "/alerts/rules", "#rule-list")
    type_into(browser, css_id(f="code", type="rule-f"), "ti101-high")
    pick(browser, css_id(f="tag_id", type="rule-f"), "TI-101")
    status, answer = post_callback(browser, body)
    assert_clean(browser)
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.dashboards.conftest import PASSWORD

# -- signing in and waiting -------------------------------------------------------------------


def sign_in(driver: WebDriver, url: str, name: str, password: str = PASSWORD) -> None:
    """Fresh session, then the real form.

    Leave the page first: a late answer to a request of the previous page would set the
    previous session's cookie again.
    """
    driver.get("about:blank")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get(url + "/login")
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


def wait_for(driver: WebDriver, css: str, timeout: float = 15) -> Any:
    """The first element matching ``css`` once Dash has finished loading."""
    try:
        element = WebDriverWait(driver, timeout).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, css))
        )
        WebDriverWait(driver, timeout).until(
            lambda d: not d.find_elements(By.CSS_SELECTOR, "._dash-loading")
        )
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text[:2000]
        pytest.fail(f"no {css} at {driver.current_url}: {body!r}; log: {driver.get_log('browser')}")
    return element


def visit(driver: WebDriver, address: str, ready: str) -> Any:
    """Open ``address`` once the app has loaded after signing in; the element ``ready`` when
    it is there."""
    wait_for(driver, "#hw-nav")
    driver.get(address)
    return wait_for(driver, ready)


def patient(driver: WebDriver, timeout: float = 15) -> WebDriverWait:
    """A wait that reads on when a callback re-renders the elements it is looking at."""
    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))


def wait_text(driver: WebDriver, css: str, wanted: str, timeout: float = 15) -> None:
    """Wait until an element matching ``css`` shows ``wanted``."""
    patient(driver, timeout).until(
        lambda d: any(wanted in e.text for e in d.find_elements(By.CSS_SELECTOR, css)),
        message=f"no {wanted!r} in {css}",
    )


def text_of(driver: WebDriver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


# -- errors -----------------------------------------------------------------------------------


def severe(driver: WebDriver) -> list[dict[str, Any]]:
    """Browser console errors since the last call (the log is drained by reading it)."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def assert_clean(driver: WebDriver) -> None:
    errors = severe(driver)
    assert not errors, "\n".join(e["message"] for e in errors)
    # Dash's own error display (callback errors) must not be shown either.
    assert not driver.find_elements(By.CSS_SELECTOR, ".dash-fe-error__title, .dash-error-card")


# -- Dash inputs ------------------------------------------------------------------------------


def css_id(**parts: Any) -> str:
    """The CSS selector of a Dash pattern-matching id (keys sorted, compact JSON)."""
    return "[id='" + json.dumps(parts, sort_keys=True, separators=(",", ":")) + "']"


def type_into(driver: WebDriver, css: str, text: str) -> None:
    """Replace the text of the input at ``css``; debounced Dash inputs commit on blur."""
    box = driver.find_element(By.CSS_SELECTOR, css)
    box.clear()
    box.send_keys(text, Keys.TAB)


def pick(driver: WebDriver, css: str, text: str, search: bool = True) -> None:
    """Choose the option containing ``text`` in the Dash dropdown at ``css``."""
    driver.find_element(By.CSS_SELECTOR, css).click()
    if search:
        box = WebDriverWait(driver, 10).until(
            lambda d: d.find_element(By.CSS_SELECTOR, ".dash-dropdown-search")
        )
        box.send_keys(text)

    def option(d: WebDriver) -> Any:
        for o in d.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"):
            if text in o.text:
                return o
        return None

    WebDriverWait(driver, 10).until(option).click()
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


# -- requests as the page would send them ------------------------------------------------------

_FETCH = """
    const [path, body, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
    const meta = document.querySelector('meta[name="csrf-token"]');
    const headers = {'Content-Type': 'application/json'};
    if (meta) headers['X-CSRFToken'] = meta.content;
    fetch(path, body === null ? {} : {method: 'POST', body: body, headers: headers})
      .then(r => r.text().then(t => done([r.status, t])), e => done([0, String(e)]));
"""


def fetch(driver: WebDriver, path: str, body: Any = None) -> tuple[int, str]:
    """GET ``path`` (or POST ``body`` as JSON with the page's CSRF token) in the open page, so
    the session cookie goes along; (HTTP status, response text)."""
    payload = None if body is None else json.dumps(body)
    status, text = driver.execute_async_script(_FETCH, path, payload)
    return int(status), str(text)


def dependency(driver: WebDriver, input_id: str, prop: str = "n_clicks") -> dict[str, Any]:
    """The app's callback that ``input_id``'s ``prop`` fires, from ``/_dash-dependencies``."""
    status, text = fetch(driver, "/_dash-dependencies")
    assert status == 200, text[:300]
    (dep,) = [
        d
        for d in json.loads(text)
        if any(i["id"] == input_id and i["property"] == prop for i in d["inputs"])
    ]
    return dict(dep)


def outputs_of(dep: dict[str, Any]) -> Any:
    """The ``outputs`` of a request to callback ``dep``: a list when it has several (written
    ``..a.children...b.data..``); a pattern-matching output matches no component here."""
    outputs: list[Any] = []
    for part in dep["output"].strip(".").split("..."):
        oid, prop = part.rsplit(".", 1)
        outputs.append([] if oid.startswith("{") else {"id": oid, "property": prop})
    return outputs if dep["output"].startswith("..") else outputs[0]


def post_callback(driver: WebDriver, body: dict[str, Any]) -> tuple[int, str]:
    """Send a callback request as the page would, for controls it may not even show (a forged
    request); (HTTP status, the answer with its escapes decoded)."""
    status, text = fetch(driver, "/_dash-update-component", body)
    if status == 200 and text:
        text = json.dumps(json.loads(text), ensure_ascii=False)
    return status, text


def forged_delete(driver: WebDriver, prefix: str, record: int) -> tuple[int, str]:
    """POST editor ``prefix``'s write callback as the signed-in user, as if its delete button
    (``{prefix}-delete``) had been clicked on record ``record`` (held in ``{prefix}-id``) with
    the reason "forged": how a role shown no such button is checked to be refused anyway.
    ``forged_delete(browser, "rule", rid)`` -> (HTTP status, answer), as ``post_callback``."""
    clicked = f"{prefix}-delete"
    dep = dependency(driver, clicked)
    body = {
        "output": dep["output"],
        "outputs": outputs_of(dep),
        # Every input of the callback in the app's order; only the delete button was clicked.
        "inputs": [
            {"id": i["id"], "property": i["property"], "value": 1 if i["id"] == clicked else None}
            for i in dep["inputs"]
        ],
        "changedPropIds": [f"{clicked}.n_clicks"],
        "state": [
            [],
            {"id": f"{prefix}-id", "property": "data", "value": record},
            {"id": f"{prefix}-reason", "property": "value", "value": "forged"},
        ],
    }
    return post_callback(driver, body)
