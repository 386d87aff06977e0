"""Page capture and session replay hide the same things (one rule set: sdk/src/privacy.ts).

A checkout page on its own origin (strict CSP) holds a filled payment form — a
text input, a password, a card number (``autocomplete="cc-number"``), a
textarea, a select and a hidden token — plus a field in an open shadow root and
one in a same-origin frame, ``[data-sayso-block]`` and ``.usero-block`` elements
with private text, and an element matched by the mask selector configured on
the script tag (``data-privacy-mask-selector``).

"Capture this page" through the widget must upload a PNG in which none of it
can be read: each field's box is pixel for pixel what it is on the same page
with its fields empty (and other private text of the same length), the blocked
boxes are flat, and the visitor's page is not touched while it happens. A
recording of the same page must not contain any of it either.
"""

from __future__ import annotations

import io
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageChops, ImageStat
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import Engine, select

from sayso.settings import Settings
from sayso.store.clients import create_client
from sayso.store.replays import ReplaySession
from sayso.store.schema import feedback
from tests.support.browser import chromium as launched_chromium
from tests.support.browser import (
    host_site,
    ordinary_user_agent,
    recorded_events,
    recorded_sessions,
    strict_csp,
)
from tests.support.live_server import LiveServer, migrated_server

pytestmark = pytest.mark.browser

MASK_SELECTOR = ".account"
FIELDS = ("holder", "password", "card", "note", "country", "in-shadow", "framed")

CSS = """
body { margin: 0; padding: 12px 24px; font: 16px/1.4 sans-serif; background: #fff; color: #111; }
body.frame { padding: 4px; }
h1 { margin: 0 0 8px; font-size: 22px; }
p { margin: 6px 0; }
label { display: block; margin: 6px 0 2px; }
input, textarea, select { display: block; width: 360px; box-sizing: border-box; margin: 0;
    font: 16px sans-serif; padding: 4px 6px; border: 1px solid #777; border-radius: 0;
    background: #fff; color: #111; outline: none; }
textarea { height: 56px; resize: none; }
.private { width: 480px; padding: 8px; background: #fde; border: 2px solid #c39; color: #600; }
.account { width: 480px; font-size: 18px; }
iframe { display: block; width: 400px; height: 48px; border: 1px solid #777; }
"""


@dataclass(frozen=True)
class Private:
    """What the visitor typed, the page's private text, and a public control (the order)."""

    holder: str
    password: str
    card: str
    note: str
    country: str  # the chosen option's value ("" is the placeholder option)
    in_shadow: str
    framed: str
    blocked: str
    usero_blocked: str
    masked: str
    token: str
    order: str


def filled() -> Private:
    tag = secrets.token_hex(4)
    return Private(
        holder=f"Grace Hopper {tag}",
        password=f"hunter2-{tag}",
        card="5555444433331111",
        note=f"Deliver to the back door, code {tag}",
        country="NA",
        in_shadow=f"gift-{tag}",
        framed=f"ref-{tag}",
        blocked=f"salary 123,456 {tag}",
        usero_blocked=f"diagnosis {tag}",
        masked=f"IBAN DE89 3704 0044 {tag}",
        token=f"tok-{secrets.token_hex(8)}",
        order=secrets.token_hex(4),
    )


def emptied(p: Private) -> Private:
    """The same page with empty fields, and other private text of the same lengths."""

    def other(s: str) -> str:
        return "".join(" " if c == " " else "x" for c in s)

    return replace(
        p,
        holder="",
        password="",
        card="",
        note="",
        country="",
        in_shadow="",
        framed="",
        blocked=other(p.blocked),
        usero_blocked=other(p.usero_blocked),
        masked=other(p.masked),
        order=secrets.token_hex(4),
    )


def checkout_page(sayso_url: str, client_id: str, p: Private, frame: str, attributes: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{strict_csp(sayso_url)}">
<title>Checkout</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/checkout.css">
</head><body>
<h1>Checkout</h1>
<p id="order">Order {p.order}</p>
<form id="pay">
<input type="hidden" name="token" value="{p.token}">
<label for="holder">Card holder</label> <input id="holder" autocomplete="name">
<label for="password">Password</label> <input id="password" type="password">
<label for="card">Card number</label> <input id="card" autocomplete="cc-number">
<label for="note">Delivery note</label> <textarea id="note"></textarea>
<label for="country">Country</label>
<select id="country"><option value="">Choose a country</option>
<option value="DE">Germany</option><option value="NA">Narnia</option></select>
</form>
<div id="shadow-host"><template shadowrootmode="open">
<link rel="stylesheet" href="/checkout.css"><input id="in-shadow" aria-label="Gift message">
</template></div>
<iframe id="frame" title="Reference" src="/{frame}"></iframe>
<div id="blocked" class="private" data-sayso-block><p>{p.blocked}</p></div>
<div id="usero-blocked" class="private usero-block">{p.usero_blocked}</div>
<p id="masked" class="account">{p.masked}</p>
<script src="{sayso_url}/widget.js" data-client-id="{client_id}" {attributes} async></script>
</body></html>
"""


FRAME = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<link rel="stylesheet" href="/checkout.css"></head>
<body class="frame"><input id="framed" aria-label="Reference"></body></html>
"""


@pytest.fixture(scope="module")
def sayso(fresh_settings: Callable[..., Settings]) -> Iterator[tuple[LiveServer, Engine]]:
    with migrated_server(fresh_settings("sqlite")) as (server, engine):
        yield server, engine


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("checkout-site")
    (root / "checkout.css").write_text(CSS)
    (root / "frame.html").write_text(FRAME)
    (root / "elsewhere.html").write_text("<!doctype html><title>Elsewhere</title><p>Bye")
    with host_site(root) as url:
        yield root, url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    # an ordinary Chrome user agent: the server drops HeadlessChrome's recordings as a bot's
    agent = ordinary_user_agent(browser)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, user_agent=agent)
    yield context
    context.close()


def write_page(
    site: tuple[Path, str], sayso_url: str, client_id: str, p: Private, attributes: str
) -> str:
    root, base = site
    name = f"checkout-{secrets.token_hex(4)}.html"
    attributes += f' data-privacy-mask-selector="{MASK_SELECTOR}"'
    (root / name).write_text(checkout_page(sayso_url, client_id, p, "frame.html", attributes))
    return f"{base}/{name}"


def fill(page: Page, p: Private) -> None:
    """Types the visitor's values (the frame's first: leaving it takes its focus away)."""
    page.frame_locator("#frame").locator("#framed").fill(p.framed)
    page.locator("#holder").fill(p.holder)
    page.locator("#password").fill(p.password)
    page.locator("#card").fill(p.card)
    page.locator("#note").fill(p.note)
    page.locator("#country").select_option(p.country)
    page.locator("#in-shadow").fill(p.in_shadow)
    page.locator("#order").click()  # blur the last field (and fire its change event)


def wait_for(what: Callable[[], Any], timeout: float = 20, message: str = "timed out") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value or time.monotonic() > deadline:
            assert value, message
            return value
        time.sleep(0.1)


def feedback_rows(engine: Engine, page_url: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(select(feedback).where(feedback.c.page_url == page_url)).mappings()
        return [dict(row) for row in result]


def capture_and_send(page: Page, engine: Engine, url: str) -> Image.Image:
    """Captures the page through the widget, sends it, and reads the PNG back from the server."""
    page.get_by_role("button", name="Give feedback").click()
    form = page.get_by_role("dialog", name="Send feedback")
    form.get_by_role("radio", name="Good").click()
    expect(form.get_by_text("Form fields are hidden in page captures.")).to_be_visible()
    form.get_by_role("button", name="Capture this page").click()
    expect(form.get_by_role("img", name="Screenshot 1")).to_be_visible(timeout=20_000)
    form.get_by_role("button", name="Send").click()
    expect(form.get_by_text("Thank you!")).to_be_visible(timeout=20_000)
    [row] = wait_for(lambda: feedback_rows(engine, url), message="no feedback row")
    [shot] = row["screenshots"]
    response = httpx.get(shot["url"], timeout=10)
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content)).convert("RGB")
    assert image.size == (1280, 800)
    return image


BOXES = """() => {
    const box = (el, dx = 0, dy = 0) => {
        const b = el.getBoundingClientRect();
        return [b.left + dx, b.top + dy, b.right + dx, b.bottom + dy].map(Math.round);
    };
    const frame = document.querySelector('#frame');
    const f = frame.getBoundingClientRect();
    const boxes = {};
    for (const id of ['holder', 'password', 'card', 'note', 'country', 'blocked',
                      'usero-blocked', 'masked', 'order']) {
        boxes[id] = box(document.getElementById(id));
    }
    boxes['in-shadow'] = box(document.querySelector('#shadow-host').shadowRoot
        .querySelector('#in-shadow'));
    boxes['framed'] = box(frame.contentDocument.querySelector('#framed'),
        f.left + frame.clientLeft, f.top + frame.clientTop);
    return boxes;
}"""

WATCH = """() => {
    window.pageMutations = [];
    const watch = (root) => new MutationObserver((records) => {
        for (const m of records) {
            window.pageMutations.push(`${m.type} on ${m.target.nodeName} ${m.attributeName || ''}`);
        }
    }).observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
    watch(document);
    watch(document.querySelector('#shadow-host').shadowRoot);
    watch(document.querySelector('#frame').contentDocument);
}"""

STATE = """() => {
    const shadow = document.querySelector('#shadow-host').shadowRoot;
    const framed = document.querySelector('#frame').contentDocument;
    const fields = [...document.querySelectorAll('input, textarea, select'),
                    ...shadow.querySelectorAll('input'), ...framed.querySelectorAll('input')];
    return {
        html: document.documentElement.outerHTML,
        shadow: shadow.innerHTML,
        frame: framed.documentElement.outerHTML,
        values: fields.map((f) => f.value),
        focus: document.activeElement.id,
    };
}"""


def difference(a: Image.Image, b: Image.Image, box: list[int]) -> tuple[int, float]:
    """The largest and the mean per-channel difference of two images inside ``box``."""
    diff = ImageChops.difference(a.crop(box), b.crop(box))
    largest = max(high for _, high in diff.getextrema())
    mean = sum(ImageStat.Stat(diff).mean) / 3
    return largest, mean


def inset(box: list[int], by: int) -> list[int]:
    left, top, right, bottom = box
    return [left + by, top + by, right - by, bottom - by]


def test_a_captured_page_shows_no_field_value_nor_blocked_or_masked_text_and_is_left_untouched(
    context: BrowserContext,
    site: tuple[Path, str],
    sayso: tuple[LiveServer, Engine],
    artifacts_dir: Path,
) -> None:
    server, engine = sayso
    client_id = create_client(engine, "capture privacy").id
    private = filled()
    empty = emptied(private)

    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    url = write_page(site, server.url, client_id, private, "")
    page.goto(url)
    expect(page.get_by_role("button", name="Give feedback")).to_be_visible()
    fill(page, private)
    page.evaluate(WATCH)
    before = page.evaluate(STATE)
    boxes = page.evaluate(BOXES)
    shot = capture_and_send(page, engine, url)
    shot.save(artifacts_dir / "capture-privacy-filled.png")
    page.wait_for_timeout(200)  # mutation records are delivered as microtasks; let any arrive

    # The visitor's page, its shadow root and its frame: not one mutation, every value as typed.
    assert page.evaluate("() => window.pageMutations") == []
    after = page.evaluate(STATE)
    assert {**after, "focus": None} == {**before, "focus": None}
    assert before["values"][:6] == [
        private.token,
        private.holder,
        private.password,
        private.card,
        private.note,
        "NA",
    ]
    assert errors == []

    empty_page = context.new_page()
    empty_url = write_page(site, server.url, client_id, empty, "")
    empty_page.goto(empty_url)
    expect(empty_page.get_by_role("button", name="Give feedback")).to_be_visible()
    empty_page.locator("#order").click()
    assert empty_page.evaluate(BOXES) == boxes  # the same layout
    baseline = capture_and_send(empty_page, engine, empty_url)
    baseline.save(artifacts_dir / "capture-privacy-empty.png")

    # The control: public text that differs between the two pages differs in the pictures.
    largest, _ = difference(shot, baseline, boxes["order"])
    assert largest > 100, "the captures do not show the page"
    # Every field, and the masked text, look the same whatever was typed or written there.
    for name in (*FIELDS, "masked"):
        largest, mean = difference(shot, baseline, boxes[name])
        assert largest <= 16, (name, largest, mean)
        assert mean < 0.25, (name, largest, mean)
    # The masked text is still there as bullets (the layout stays readable).
    masked = shot.crop(inset(boxes["masked"], 1)).getextrema()
    assert any(low < 128 for low, _ in masked), "no bullets where the masked text was"
    # A blocked element is a flat box of its own size.
    for name in ("blocked", "usero-blocked"):
        extrema = shot.crop(inset(boxes[name], 1)).getextrema()
        assert all(high - low <= 2 for low, high in extrema), (name, extrema)
    page.close()
    empty_page.close()


def stored_events(server: LiveServer, engine: Engine, session_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(recorded_events(server.settings, engine, session_id))
    return events


def recorded_values(events: list[dict[str, Any]]) -> list[str]:
    """Every field value recorded: value attributes (snapshots, mutations) and input events."""
    values: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("tagName") in ("input", "textarea", "select") and "value" in node.get(
            "attributes", {}
        ):
            values.append(node["attributes"]["value"])
        for child in node.get("childNodes", []):
            walk(child)

    for event in events:
        data = event.get("data", {})
        if event["type"] == 2:
            walk(data["node"])
        elif event["type"] == 3 and data.get("source") == 0:
            for added in data.get("adds", []):
                walk(added["node"])
            for attribute in data.get("attributes", []):
                if "value" in attribute["attributes"]:
                    values.append(attribute["attributes"]["value"])
        elif event["type"] == 3 and data.get("source") == 5:
            values.append(data["text"])
    return values


def test_a_recording_of_the_same_page_hides_the_same_things(
    context: BrowserContext, site: tuple[Path, str], sayso: tuple[LiveServer, Engine]
) -> None:
    server, engine = sayso
    client_id = create_client(engine, "replay privacy").id
    private = filled()
    url = write_page(site, server.url, client_id, private, "data-replay")
    page = context.new_page()
    page.goto(url)
    session: ReplaySession = wait_for(
        lambda: next(iter(recorded_sessions(engine, client_id)), None), message="no session started"
    )
    fill(page, private)
    typed = ("*" * len(private.holder), "*" * len(private.card), "*" * len(private.framed))

    def typing_recorded() -> bool:
        text = json.dumps(stored_events(server, engine, session.id))
        return all(json.dumps(t) in text for t in typed)

    # a chunk goes every 3 s: wait for the one with the typing (masked, one * per character)
    wait_for(typing_recorded, message="the typing was not recorded")
    page.goto(f"{site[1]}/elsewhere.html")  # the rest is flushed on the way out
    page.wait_for_timeout(1000)

    events = stored_events(server, engine, session.id)
    text = json.dumps(events)
    assert any(e["type"] == 2 for e in events), "a full snapshot"
    assert "Card holder" in text, "the page itself was recorded"
    for secret in (
        private.holder,
        private.password,
        private.card,
        private.note,
        private.in_shadow,
        private.framed,
        private.blocked,
        private.usero_blocked,
        private.masked,
        private.token,
    ):
        assert secret not in text, secret
    # The select's choice shows nowhere: no selected option, every recorded value masked.
    values = recorded_values(events)
    assert len(values) >= len(FIELDS)
    assert all(set(v) <= {"*"} for v in values), values
    assert '"selected": true' not in text
    page.close()
