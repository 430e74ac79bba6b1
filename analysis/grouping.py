"""Alert episodes grouped into incidents for the evaluation: the one place that decides which episodes are one event.

For now episodes are merged by time (``analysis.incidents.MERGE_GAP``): an episode that starts within that
many minutes of the end of the current group joins it. The engine's incident tracker (alerts carrying an
``incident_id``) can replace this function wholesale: the evaluation calls nothing else to group.
"""

from __future__ import annotations

from collections.abc import Sequence

from analysis.incidents import MERGE_GAP
from analysis.replay import Episode


def group_episodes(episodes: Sequence[Episode], last_minute: int) -> list[list[Episode]]:
    """Episodes in groups, one per incident, in order of start; an unresolved episode lasts to ``last_minute``."""
    groups: list[list[Episode]] = []
    group_end = None
    for episode in sorted(episodes, key=lambda e: (e.started_at, e.fired_wall)):
        end = max(episode.resolved_at - 1 if episode.resolved_at else last_minute, episode.started_at)
        if groups and group_end is not None and episode.started_at <= group_end + MERGE_GAP:
            groups[-1].append(episode)
            group_end = max(group_end, end)
        else:
            groups.append([episode])
            group_end = end
    return groups
