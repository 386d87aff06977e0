"""What the rollup tables of migration 0007 keep for any group of feedback.

``feedback_pages_daily`` and ``feedback_people`` each hold, per group, how many
items there are and the sum and count of their ratings; the average follows
from those two (a stored average could not be added up across days).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RatingTotals:
    count: int
    rating_sum: int
    rated_count: int  # the items with a rating; the others have none

    @property
    def average(self) -> float | None:
        """The average rating, None if no item has one."""
        return self.rating_sum / self.rated_count if self.rated_count else None
