"""Reading a patient's record from a FHIR R4 server (SMART Backend Services or a bearer token).

Not yet filled in: the client, its auth and its error hierarchy land here (issue 12).
"""
