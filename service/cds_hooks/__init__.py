"""CDS Hooks 2.0: discovery, the ``patient-view`` service and its cards, prefetch, the CDS client's JWT."""
