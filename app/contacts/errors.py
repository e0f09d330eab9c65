"""Errors of contact lists."""

from app.errors import ValidationError
from app.quoting import quote_input

# campaigns named in a refusal; the rest are counted (a flash message lives in a cookie)
NAMED_CAMPAIGNS = 5


class ContactListInUseError(ValidationError):
    """A list that campaigns still need (not CLOSED) cannot be deleted or emptied.

    A ValidationError: permanent, like any refused request (no actor retries it).
    """

    def __init__(self, list_id: int, list_name: str, campaigns, action: str = "deleted"):
        self.list_id, self.campaigns = list_id, list(campaigns)
        named = ", ".join(
            f"campaign {c.id} {quote_input(c.name, 30)} ({c.state})"
            for c in self.campaigns[:NAMED_CAMPAIGNS]
        )
        more = len(self.campaigns) - NAMED_CAMPAIGNS
        if more > 0:
            named += f" and {more} more"
        super().__init__(
            f"contact list {list_id} {quote_input(list_name)} cannot be {action}: it is used by "
            f"{named}; it can be once they are CLOSED (a DRAFT can choose another list)"
        )
