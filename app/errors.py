"""The error tree shared by every Callcast package."""


class CallcastError(Exception):
    """Base of every error Callcast raises on purpose."""


class ConfigError(CallcastError):
    """A setting in the environment is missing or malformed."""


class ValidationError(CallcastError):
    """Input (a form, a CSV row, a CLI option) is not acceptable."""


class IllegalTransitionError(CallcastError):
    """A campaign state change that the lifecycle does not allow."""

    def __init__(self, campaign_id, current, target):
        self.campaign_id, self.current, self.target = campaign_id, current, target
        super().__init__(
            f"campaign {campaign_id}: cannot go from {current} to {target}"
        )


class StaleStateError(CallcastError):
    """Another process changed the campaign's state first."""


class NotFoundError(CallcastError):
    """The object named by an id does not exist."""
