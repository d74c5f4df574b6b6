"""What the synthesizer says to the model: answer the board question from the findings only."""

from __future__ import annotations

from medboard.models import Finding


def answer_instruction(question: str, findings: list[Finding]) -> str:
    listing = "\n".join(f"- {f.id}: {f.text}" for f in findings)
    return (
        "You are the synthesizer. Answer the board question using ONLY the findings listed below; "
        "each supporting statement must cite the ids of the findings it restates. Do not add facts. "
        "Do not recommend treatment; state what the record supports and what it does not say.\n"
        f"BOARD QUESTION: {question}\nFINDINGS:\n{listing}"
    )
