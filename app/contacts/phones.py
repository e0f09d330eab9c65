"""Phone numbers: a default country, E.164 normalisation and the reason a number is refused."""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat, ValidationResult

from app.errors import ValidationError
from app.quoting import quote_input

# Separators people type inside phone numbers; removing them first makes
# phonenumbers' own per-character normalisation cheaper and changes no result.
_SEPARATORS = str.maketrans("", "", " \t\u00a0\u2009()-./")
_PLAIN_NUMBER = re.compile(r"\+?[0-9]+")
_DIGIT_RUN = re.compile(r"\d")

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}
_POSSIBLE_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "wrong length",
}


def check_country(country: str) -> str:
    """Upper-case ISO 3166 code phonenumbers knows.

    Raises:
        ValidationError: not a region phonenumbers has metadata for.
    """
    code = (country or "").strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            f"unknown default country {quote_input(country, 8)}: use a 2-letter ISO code"
        )
    return code


@functools.lru_cache(maxsize=None)
def _alone_code(country: str) -> int:
    """``country``'s calling code if "valid for ``country``" already means "valid"; else 0.

    True when ``country`` is the first region of its calling code and, if the
    code is shared (+1, +7, +44 ...), carries no leading-digits rule:
    ``region_code_for_number`` then tries it first and keeps it for any number
    valid there.
    """
    code = phonenumbers.country_code_for_region(country)
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    if not regions or regions[0] != country:
        return 0
    metadata = PhoneMetadata.metadata_for_region(country)
    alone = len(regions) == 1 or (metadata is not None and metadata.leading_digits is None)
    return code if alone else 0


def _is_valid(number, country: str) -> bool:
    """``phonenumbers.is_valid_number(number)``, at about half the cost for the usual number.

    ``is_valid_number`` first finds the number's region (for +1 that means
    matching the number against each NANPA region in turn), then validates it
    there. A number of the default country's own calling code is validated for
    that country first; when it passes and ``_alone_code(country)`` is that
    code, the full answer is the same, so the region search is skipped.
    """
    if number.country_code == _alone_code(country) and phonenumbers.is_valid_number_for_region(
        number, country
    ):
        return True
    return phonenumbers.is_valid_number(number)


def normalise_phone(raw: str, country: str) -> tuple[str | None, str]:
    """(E.164, "") for a valid number, (None, reason) otherwise.

    ``country`` is the default region for numbers written without ``+``/IDD.
    """
    text = raw.strip() if raw else ""
    if not text:
        return None, "empty phone number"
    clean = text.translate(_SEPARATORS)
    try:
        number = phonenumbers.parse(clean if _PLAIN_NUMBER.fullmatch(clean) else text, country)
    except NumberParseException as exc:
        return None, _PARSE_REASONS.get(exc.error_type, "not a phone number")
    if not _is_valid(number, country):
        possible = phonenumbers.is_possible_number_with_reason(number)
        reason = _POSSIBLE_REASONS.get(possible)
        if reason is None:
            region = phonenumbers.region_code_for_number(number) or country
            reason = f"not a valid {region} number"
        return None, reason
    return phonenumbers.format_number(number, PhoneNumberFormat.E164), ""


def require_phone(raw: str, country: str) -> str:
    """E.164 of ``raw``.

    Raises:
        ValidationError: the number does not normalise; the message says why.
    """
    e164, reason = normalise_phone(raw, country)
    if e164 is None:
        raise ValidationError(f"{quote_input(raw)}: {reason}")
    return e164


def looks_like_phone(cell: str) -> bool:
    """Whether a cell is mostly digits, six or more: a phone number to the sniffer."""
    digits = len(_DIGIT_RUN.findall(cell))
    return digits >= 6 and digits >= 0.6 * len(cell.replace(" ", ""))
