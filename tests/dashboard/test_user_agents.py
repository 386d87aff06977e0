"""The detail page's user agent summary, against real browsers' strings."""

from __future__ import annotations

import pytest

from sayso.dashboard.user_agents import parse

CASES = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Chrome 131 · Windows",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
        "Edge 131 · Windows",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        "Safari 18 · macOS",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Safari 17 · iOS 17",
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Firefox 133 · Linux",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        "Samsung Internet 26 · Android 14",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
        "Opera 115 · Windows",
    ),
    ("Googlebot/2.1 (+http://www.google.com/bot.html)", "Unknown (automated)"),
    ("<script>alert(1)</script>", "Unknown"),
]


@pytest.mark.parametrize(("ua", "summary"), CASES)
def test_common_browsers_are_named_with_their_major_version_and_os(ua: str, summary: str) -> None:
    agent = parse(ua)
    assert agent is not None
    assert str(agent) == summary


def test_no_user_agent_gives_no_summary() -> None:
    assert parse(None) is None
    assert parse("") is None
