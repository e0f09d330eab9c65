"""The API's shape of a campaign's AMD settings, built from ``app.amd``'s own tables
(names, bounds, choices), so the OpenAPI document and the rule cannot drift."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate as v

from app import amd


def _fields(output: bool) -> dict:
    found = {}
    for name in amd.FLAGS:
        found[name] = f.Boolean()  # the domain refuses anything but true or false
    for name, bound in amd.BOUNDS.items():
        meta = {"description": bound.help, "default": bound.default}
        found[name] = f.Integer(metadata=meta) if output else f.Integer(
            strict=True, validate=v.Range(bound.low, bound.high), metadata=meta)
    for name, choices in amd.CHOICES.items():
        found[name] = f.String(validate=v.OneOf(choices))
    for name, most in amd.TEXTS.items():
        found[name] = f.String() if output else f.String(validate=v.Length(max=most))
    return found


class _Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


AmdInput = _Strict.from_dict(_fields(False), name="AmdInput")
AmdOut = ma.Schema.from_dict(_fields(True), name="AmdOut")
