"""Writing a verified summary back to the EHR as FHIR: a Composition and its Provenance.

Not yet filled in (issue 12).
"""
