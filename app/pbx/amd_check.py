"""Whether the PBX can run the AMD campaigns: ``/health``'s PBX check asks it.

``app_amd`` refuses to load without ``amd.conf`` (apps/app_amd.c ``load_config``
returns -1, ``load_module`` declines), and a dialplan that runs ``AMD()`` without
it ends every answered call at that line. AMI ``ModuleCheck`` (main/manager.c
``manager_modulecheck``; the AMI user needs the ``system`` write class) answers
``Module not loaded`` then.
"""

from __future__ import annotations

from peewee import PeeweeException

from app.amd import settings_of
from app.db import connection
from app.models import DIALPLAN_STATES, Campaign
from app.pbx.errors import AmiActionError

MODULES = ("app_amd", "app_waitforsilence")  # AMD(), and WaitForSilence() before a message


def campaigns_needing_amd() -> list[int]:
    """Ids of the campaigns whose loaded dialplan runs AMD() (AMD on, ACTIVE to DRAINING)."""
    rows = Campaign.select(Campaign.id, Campaign.amd).where(Campaign.state.in_(DIALPLAN_STATES))
    return [c.id for c in rows.order_by(Campaign.id) if settings_of(c.amd).enabled]


def needing_amd() -> list[int]:
    """``campaigns_needing_amd`` in its own connection; [] when the database is away (the
    database check names that problem)."""
    try:
        with connection():
            return campaigns_needing_amd()
    except PeeweeException:
        return []


def amd_problem(ami, needing, timeout=None) -> str | None:
    """None when no campaign needs AMD (``needing``: their ids, ``needing_amd``) or the PBX
    has its modules, else what is missing.

    Raises:
        PbxError subclasses other than a refused ModuleCheck: the PBX did not answer.
    """
    if not needing:
        return None
    missing = []
    for module in MODULES:
        try:
            ami.action("ModuleCheck", [("Module", module)], timeout=timeout)
        except AmiActionError as exc:
            missing.append(f"{module} ({exc.message})")
    if not missing:
        return None
    shown = ", ".join(map(str, needing[:5])) + (" ..." if len(needing) > 5 else "")
    return (f"campaign(s) {shown} use answering-machine detection but the PBX lacks "
            f"{', '.join(missing)}: see docs/asterisk.md (amd.conf)")
