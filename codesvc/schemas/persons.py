"""Registering a person."""

from __future__ import annotations

from pydantic import Field

from codesvc.schemas.fields import Code6, IdNumber, In, Name, Out, PersonRef, Phone


class PersonIn(In):
    id_number: IdNumber
    name: Name
    district: Code6 = Field(description="6-digit district code the person is registered in")
    phone: Phone | None = None


class PersonOut(Out):
    person_ref: PersonRef
    created: bool = Field(description="false when the id number was already registered")
