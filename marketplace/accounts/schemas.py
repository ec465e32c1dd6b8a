"""Marshmallow schemas for the accounts API."""

from __future__ import annotations

from marshmallow import Schema, fields


class OrganisationSummarySchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"enum": ["cooperative", "buyer", "staff"]})
    name = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["pending", "verified", "rejected", "suspended"]})
    nit = fields.String(allow_none=True, required=True)
    municipality_code = fields.String(allow_none=True, required=True)


class MeSchema(Schema):
    id = fields.Integer(required=True)
    full_name = fields.String(required=True)
    phone = fields.String(allow_none=True, required=True, metadata={"description": "E.164, por ejemplo +573001234567."})
    email = fields.String(allow_none=True, required=True)
    locale = fields.String(required=True)
    role = fields.String(allow_none=True, required=True)
    organisation = fields.Nested(OrganisationSummarySchema, allow_none=True, required=True)
