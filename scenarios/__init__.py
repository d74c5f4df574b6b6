"""Scenario regression tests (YAML case + expectations + a cassette of model traffic).

Not built yet: no issue has asked for the runner. Its base exists — `medboard.llm.cassette`
records and strictly replays model traffic, and `medboard run --record-cassette/--replay` drives it.
"""
