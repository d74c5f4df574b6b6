"""CDS Hooks 2.0: discovery, the ``patient-view`` service, the CDS client's JWT. Not yet filled in."""
