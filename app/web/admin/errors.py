"""Errors of the back office."""

from app.errors import IllegalTransitionError


class ActionRefusedError(IllegalTransitionError):
    """An operator action on a campaign in a state it does not start from."""

    def __init__(self, campaign_id, current, target, action, sources):
        super().__init__(campaign_id, current, target)
        self.action, self.sources = action, sources
        self.args = (
            f"{action} refused: campaign {campaign_id}: cannot go from {current} to {target} "
            f"({action} works on {' or '.join(sources)} campaigns)",
        )
