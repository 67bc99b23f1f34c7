"""Programme analytics as SQL over what the principal may see (server/access/visibility.py).

`scope` (the projects in scope and their groups), `totals` (figures per group), `charts`
(the theme x country matrix, the collaboration network, the activity series) and `cube`
(refreshing the materialised figures they read).
"""

from server.analytics.charts import (
    MAX_EDGES,
    Cell,
    Network,
    Point,
    Side,
    activity_series,
    collaboration_network,
    theme_country_matrix,
)
from server.analytics.cube import (
    STATS_REFRESH_SECONDS,
    refresh_stats,
    refreshed_at,
    stats_fingerprint,
)
from server.analytics.scope import Dimension, StatsFilter, check_filter
from server.analytics.totals import Figures, figures

__all__ = [
    "MAX_EDGES",
    "STATS_REFRESH_SECONDS",
    "Cell",
    "Dimension",
    "Figures",
    "Network",
    "Point",
    "Side",
    "StatsFilter",
    "activity_series",
    "check_filter",
    "collaboration_network",
    "figures",
    "refresh_stats",
    "refreshed_at",
    "stats_fingerprint",
    "theme_country_matrix",
]
