"""Facts from the Usero reference the tests check against: its field names and its
full-field example body (without its clientId)."""

# Every field POST /api/feedback takes, in the reference's order.
API_FIELDS = (
    "clientId",
    "rating",
    "comment",
    "userEmail",
    "pageUrl",
    "pageTitle",
    "referrer",
    "environment",
    "screenshots",
    "metadata",
    "sessionReplayId",
    "replayOffsetMs",
)

FULL_EXAMPLE = {
    "rating": 2,
    "comment": "Export to CSV times out on large projects",
    "userEmail": "jamie@example.com",
    "pageUrl": "https://yourapp.com/projects/42/export",
    "pageTitle": "Export project",
    "referrer": "https://yourapp.com/projects/42",
    "environment": "staging",
    "metadata": {"appVersion": "2.4.1", "os": "macOS 15.2", "build": 1842},
}
