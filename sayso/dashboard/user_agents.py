"""A user agent string, summarised as "Browser major · OS" for people reading feedback.

Deliberately small: the families people actually report from, checked in an
order that handles the way browsers impersonate each other (Edge and Opera say
"Chrome", Chrome says "Safari", iPad Safari may claim to be a Mac). The raw
string stays on the page next to the summary, so a miss costs nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (name, pattern whose group 1 is the version), first match wins.
_BROWSERS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern))
    for name, pattern in [
        ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
        ("Opera", r"(?:OPR|Opera)/(\d+)"),
        ("Samsung Internet", r"SamsungBrowser/(\d+)"),
        ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
        ("Headless Chrome", r"HeadlessChrome/(\d+)"),
        ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
        ("Safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"),
    ]
]
_BOT = re.compile(r"bot|crawl|spider|slurp|curl/|wget|python-requests|httpx", re.I)
_OS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern))
    for name, pattern in [
        ("iPadOS", r"iPad.*OS (\d+)"),
        ("iOS", r"iPhone.*OS (\d+)"),
        ("Android", r"Android (\d+)"),
        ("ChromeOS", r"CrOS"),
        ("Windows", r"Windows NT"),
        ("macOS", r"Mac OS X (\d+)"),
        ("Linux", r"Linux"),
    ]
]


@dataclass(frozen=True, slots=True)
class Agent:
    browser: str | None
    os: str | None
    bot: bool

    def __str__(self) -> str:
        parts = [p for p in (self.browser, self.os) if p]
        text = " · ".join(parts) if parts else "Unknown"
        return f"{text} (automated)" if self.bot else text


def parse(user_agent: str | None) -> Agent | None:
    if not user_agent:
        return None
    browser = None
    for name, pattern in _BROWSERS:
        if match := pattern.search(user_agent):
            browser = f"{name} {match.group(1)}"
            break
    os_name = None
    for name, pattern in _OS:
        if match := pattern.search(user_agent):
            version = match.group(1) if pattern.groups else None
            # macOS reports 10_15_7 forever; its number says nothing useful.
            os_name = name if version is None or name == "macOS" else f"{name} {version}"
            break
    return Agent(browser, os_name, bool(_BOT.search(user_agent)))
