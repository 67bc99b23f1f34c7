"""Programme analytics as GraphQL (reads only)."""

from schema.analytics.queries import AnalyticsQueries

__all__ = ["AnalyticsQueries"]
