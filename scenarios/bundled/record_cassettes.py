"""Re-record the bundled scenarios' cassettes with the deterministic fake model, then replay them.

    .venv/bin/python scenarios/bundled/record_cassettes.py [SCENARIO.yaml ...]

The fake model (`tests/scenario_responder.py` behind `tests/fake_openai.py`, on 127.0.0.1) answers
from the prompt alone, so a cassette it records is reproducible and needs no GPU or weights. A
team pinning its own pipeline records against its real endpoint instead:
`medboard scenarios run PATH --record --model URL --model-name NAME`.
Snapshots are rewritten too (`--update-snapshots`), since a re-recording changes the model's text.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests"))

from fake_openai import FakeOpenAIServer  # noqa: E402
from scenario_responder import FAKE_MODEL, scenario_responder  # noqa: E402

from medboard.scenarios.report import scenario_text  # noqa: E402
from medboard.scenarios.runner import run_file  # noqa: E402
from medboard.scenarios.spec import CassetteModel, find_scenarios, load_scenario  # noqa: E402


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or [HERE]
    worst = 0
    with FakeOpenAIServer(scenario_responder, models=[FAKE_MODEL]) as server:
        for path in find_scenarios(paths):
            if not isinstance(load_scenario(path).model, CassetteModel):
                continue
            result = run_file(
                path, record=True, model_url=server.base_url, model_name=FAKE_MODEL, update_snapshots=True
            )
            assert result is not None
            print(scenario_text(result))
            worst = max(worst, result.exit_code)
    return worst


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
