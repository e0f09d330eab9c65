"""pbxsim tests reuse the PBX fixtures (AGI listener, pbxsim thread and process)."""

from tests.pbx.conftest import (  # noqa: F401 - fixtures
    AgiListener,
    agi_listener,
    pbx_settings,
    pbxsim,
    pbxsim_process,
    sample_campaign,
)
