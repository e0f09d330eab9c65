"""The results step: one ContactResult per contact, folded from its events in the database."""

from __future__ import annotations

import logging

from app.amd import MACHINE_EVENTS, MESSAGE_LEFT
from app.amd import settings_of as amd_settings_of
from app.campaigns import get_campaign
from app.db import database
from app.finalization import amd_results, dialect
from app.finalization.steps import RESULTS, claim
from app.models import CampaignOption
from app.reports import NOT_CALLED, sql

log = logging.getLogger(__name__)

# Small integer codes so that one MAX() per contact picks "the latest" of a kind.
FAILURE_CODES = {"busy": 1, "noanswer": 2, "congestion": 3, "unavailable": 4, "failed": 5}
DIGIT_CODES = {d: i for i, d in enumerate("0123456789*#")}
# AMD (app.amd): answers, verdicts handled as a machine, voicemails left; constants for a
# campaign without AMD, so its fold evaluates nothing more per event
_MACHINE_NAMES = ", ".join(f"'{name}'" for name in MACHINE_EVENTS)
AMD_COUNTS = (f"COUNT(*) FILTER (WHERE name = 'answered') AS answers, "
              f"COUNT(*) FILTER (WHERE name IN ({_MACHINE_NAMES})) AS machines, "
              f"COUNT(*) FILTER (WHERE name = '{MESSAGE_LEFT}') AS messages")
NO_AMD_COUNTS = "0 AS answers, 0 AS machines, 0 AS messages"


def _case(expr: str, mapping: dict, prefix: str, invert: bool) -> str:
    """A CASE from event names (``prefix`` + name) to codes, or (``invert``) codes to names."""
    if invert:
        whens = " ".join(f"WHEN {code} THEN '{name}'" for name, code in mapping.items())
    else:
        whens = " ".join(f"WHEN '{prefix}{name}' THEN {code}" for name, code in mapping.items())
    return f"CASE {expr} {whens} END"


def _aggregate_sql(amd: bool = False) -> str:
    """One row per contact with events: the figures the outcome rule needs, in contact order.

    Read through the (campaign, contact, attempt, name) index, so the groups come
    out already sorted; FILTER feeds each aggregate only the rows it concerns.
    """
    event_id = dialect.event_id()
    fail_code = _case("name", FAILURE_CODES, "failed-", invert=False)
    digit_code = _case("name", DIGIT_CODES, "dtmf-", invert=False)
    is_dtmf, is_failed = dialect.name_starts_with("dtmf-"), dialect.name_starts_with("failed-")
    return f"""
    SELECT contact_id,
      MAX(attempt) AS max_attempt,
      MIN(received_at) FILTER (WHERE name IN ('answered', 'timeout', 'invalid') OR {is_dtmf})
        AS answered_at,
      MAX(received_at) FILTER (WHERE name = 'hangup') AS hangup_at,
      MAX(attempt) FILTER (WHERE name = 'hangup') AS hangup_attempt,
      MAX(attempt * 16 + {fail_code}) FILTER (WHERE {is_failed}) AS fail_key,
      MAX({event_id} * 16 + {digit_code}) FILTER (WHERE {is_dtmf}) AS digit_key,
      MAX(received_at) AS last_event_at,
      {AMD_COUNTS if amd else NO_AMD_COUNTS}
    FROM call_event WHERE campaign_id = ?
    GROUP BY contact_id"""


def _base_sql(with_list: bool) -> str:
    """The campaign's contacts: its list's, or (no list) those the dialer seeded."""
    if with_list:
        return "c.contact_list_id = ?"
    return "c.id IN (SELECT contact_id FROM campaign_contact WHERE campaign_id = ?)"


RESULT_COLUMNS = (
    "campaign_id, contact_id, phone, outcome, attempts, digit, digit_label, "
    "answered_at, talk_seconds, last_attempt_at"
)


def results_sql(with_list: bool, option_count: int = 0, amd: bool = False) -> str:
    """INSERT ... SELECT that folds the events of each contact that has some into its result row.

    The rule is the dialer's per-attempt rule (``app.dialer.facts_of``) applied
    to the contact's last attempt, in one set-based pass: 'stopped' when an
    operator stopped it (``app.contacts.stopping``); else answered if any
    attempt shows a sign of an answer (answered, a digit, timeout, invalid) —
    even when its hangup event never came, since the person was reached — unless
    AMD handled every answered attempt as a machine: then 'machine-message' when a
    voicemail was left, else 'machine'; else the failure reason of its last
    attempt; else 'failed' for a last attempt that hung up unanswered; else
    'dnc' when the dialer skipped it as do-not-call; else 'lost' (its last attempt has no outcome and the PBX no
    longer has it: the reconciliation rule). Attempts are the dialer's counter
    or the events' highest attempt, whichever is larger; the digit is the last
    one pressed; talk time runs from the first answer sign to 'hangup'.

    The aggregate drives the join (contacts looked up by primary key in the
    same order), so no temporary index is built over 300,000 groups.
    Parameters: campaign, the option (digit, label) pairs, campaign (events),
    campaign (dial state), list or campaign (``_base_sql``).
    """
    talk = dialect.seconds_between("a.answered_at", "a.hangup_at")
    join = dialect.aggregate_join()
    fail_name = _case("a.fail_key % 16", FAILURE_CODES, "", invert=True)
    digit_name = _case("a.digit_key % 16", DIGIT_CODES, "", invert=True)
    dialed = "COALESCE(cc.attempts, 0)"
    # the option labels are bound parameters of a CASE: no join, no lookup per contact
    whens = " ".join("WHEN ? THEN ?" for _ in range(option_count))
    label = f"CASE r.digit {whens} ELSE '' END" if option_count else "''"
    return sql(
        f"""
INSERT INTO contact_result ({RESULT_COLUMNS})
SELECT ?, r.contact_id, r.phone, r.outcome, r.attempts, r.digit,
       {label}, r.answered_at, r.talk_seconds, r.last_event_at
FROM (
  SELECT c.id AS contact_id, c.phone AS phone,
    CASE
      WHEN cc.last_outcome = 'stopped' THEN 'stopped'
      WHEN a.answered_at IS NOT NULL AND a.answers > a.machines THEN 'answered'
      WHEN a.messages > 0 THEN 'machine-message'
      WHEN a.machines > 0 THEN 'machine'
      WHEN a.answered_at IS NOT NULL THEN 'answered'
      WHEN a.fail_key / 16 >= a.max_attempt AND a.fail_key / 16 >= {dialed} THEN {fail_name}
      WHEN a.hangup_attempt >= a.max_attempt AND a.hangup_attempt >= {dialed} THEN 'failed'
      WHEN cc.last_outcome = 'dnc' THEN 'dnc'
      ELSE 'lost'
    END AS outcome,
    CASE WHEN {dialed} > a.max_attempt THEN {dialed} ELSE a.max_attempt END AS attempts,
    CASE WHEN a.digit_key IS NULL THEN '' ELSE {digit_name} END AS digit,
    a.answered_at AS answered_at,
    CASE WHEN a.hangup_at >= a.answered_at THEN {talk} END AS talk_seconds,
    a.last_event_at AS last_event_at
  FROM ({_aggregate_sql(amd)}
  ) a
  {join} contact c ON c.id = a.contact_id
  LEFT JOIN campaign_contact cc ON cc.campaign_id = ? AND cc.contact_id = c.id
  WHERE {_base_sql(with_list)}
) r
"""
    )


def silent_results_sql(with_list: bool) -> str:
    """INSERT ... SELECT of the result of each contact with no event (run after ``results_sql``).

    'dnc' when the dialer skipped it as do-not-call, 'not_called' when it was
    never dialed, else 'lost' (dialed, but no event ever came back).
    Parameters: campaign, campaign (dial state), list or campaign, campaign (results).
    """
    dialed = "COALESCE(cc.attempts, 0)"
    return sql(
        f"""
INSERT INTO contact_result ({RESULT_COLUMNS})
SELECT ?, c.id, c.phone,
  CASE WHEN cc.last_outcome IN ('dnc', 'stopped') THEN cc.last_outcome
       WHEN {dialed} = 0 THEN '{NOT_CALLED}'
       ELSE 'lost' END,
  {dialed}, '', '', NULL, NULL, NULL
FROM contact c
LEFT JOIN campaign_contact cc ON cc.campaign_id = ? AND cc.contact_id = c.id
WHERE {_base_sql(with_list)}
  AND NOT EXISTS (SELECT 1 FROM contact_result r WHERE r.campaign_id = ? AND r.contact_id = c.id)
"""
    )


def fold_results(campaign_id: int, contact_list_id: int | None, amd: bool = False) -> int:
    """Insert one ContactResult per contact of the campaign; return how many (``amd``: the
    campaign has AMD on, so machine outcomes are told apart)."""
    with_list = contact_list_id is not None
    base = contact_list_id if with_list else campaign_id
    labels = [
        value
        for option in CampaignOption.select()
        .where(CampaignOption.campaign == campaign_id)
        .order_by(CampaignOption.digit)
        for value in (option.digit, option.label)
    ]
    params = (campaign_id, *labels, campaign_id, campaign_id, base)
    folded = database.execute_sql(results_sql(with_list, len(labels) // 2, amd),
                                  params).rowcount
    count_sql = (
        "SELECT COUNT(*) FROM contact WHERE contact_list_id = ?"
        if with_list
        else "SELECT COUNT(*) FROM campaign_contact WHERE campaign_id = ?"
    )
    (contacts,) = database.execute_sql(sql(count_sql), (base,)).fetchone()
    if folded < contacts:  # some contacts have no event at all
        params = (campaign_id, campaign_id, base, campaign_id)
        folded += database.execute_sql(silent_results_sql(with_list), params).rowcount
    return folded


# --- the step ----------------------------------------------------------------------


def step_results(campaign_id: int, now) -> None:
    """Replace the campaign's results with a fresh fold of its events."""
    campaign = get_campaign(campaign_id)
    # fresh statistics for the fold's plan (~0.2 s): events imported or
    # replayed in bulk since autovacuum last looked would make the planner
    # guess, and a bad guess costs seconds over a million rows
    dialect.refresh_statistics("call_event, campaign_contact, contact")
    with database.atomic():
        claim(campaign_id, RESULTS, now)
        database.execute_sql(
            sql("DELETE FROM contact_result WHERE campaign_id = ?"), (campaign_id,)
        )
        amd = amd_settings_of(campaign).enabled
        count = fold_results(campaign_id, campaign.contact_list_id, amd)
        if amd:
            amd_results.fill_verdicts(campaign_id)
    # the CSV pages through these rows: with the statistics of an empty
    # table the planner sorted all 330,000 of them for every page (0.4 s each)
    dialect.refresh_statistics("contact_result")
    log.info("campaign=%s results: %s contacts", campaign_id, count)

