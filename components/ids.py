"""Every Dash component id on the page, in one place, so layout, callbacks and tests agree."""

REFRESH = "refresh-interval"
HEALTH_BADGE = "health-badge"
NEWEST_EVENT = "newest-event"
LIVE_COUNTS = "live-counts"
OPEN_ALERTS = "open-alerts"
